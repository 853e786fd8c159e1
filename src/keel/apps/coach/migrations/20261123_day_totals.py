"""day_totals: each dimension's sum and number of records per user and day, which stats read

Filled from the records already stored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each dimension's table and the column it adds to its day's total (DimensionSpec.measure).
MEASURED = {
    "sleep": ("sleeps", "duration_minutes"),
    "workout": ("workouts", "minutes"),
    "meal": ("meals", "calories"),
    "work": ("work_notes", "focus_minutes"),
    "reading": ("readings", "minutes"),
}


def upgrade() -> None:
    op.create_table(
        "day_totals",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_day_totals_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "date", "dimension", name=op.f("pk_day_totals")),
    )
    for dimension, (table, column) in MEASURED.items():
        op.execute(
            f"INSERT INTO day_totals (user_id, date, dimension, value, records) "
            f"SELECT user_id, date, '{dimension}', COALESCE(SUM({column}), 0), COUNT(*) "
            f"FROM {table} GROUP BY user_id, date"
        )


def downgrade() -> None:
    op.drop_table("day_totals")
