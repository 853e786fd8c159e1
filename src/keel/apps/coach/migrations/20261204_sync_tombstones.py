"""records keep their tombstones; indexes for the records' and day logs' change feeds

Each record table gets `deleted_at` (a deletion leaves the row as its tombstone, issue 16), an
index on (user_id, updated_at) that its change feed reads by, and one on deleted_at that
retention prunes old tombstones by. day_logs gets the (user_id, updated_at) index of its own
change feed. `version` and `updated_at` were there from the first schema.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keel.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_TABLES = ("workouts", "meals", "sleeps", "work_notes", "readings")


def upgrade() -> None:
    for table in RECORD_TABLES:
        op.add_column(table, sa.Column("deleted_at", keel.core.db.UTCDateTime(), nullable=True))
        op.create_index(
            op.f(f"ix_{table}_user_id_updated_at"), table, ["user_id", "updated_at"], unique=False
        )
        op.create_index(op.f(f"ix_{table}_deleted_at"), table, ["deleted_at"], unique=False)
    op.create_index(
        op.f("ix_day_logs_user_id_updated_at"), "day_logs", ["user_id", "updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_day_logs_user_id_updated_at"), table_name="day_logs")
    for table in reversed(RECORD_TABLES):
        op.drop_index(op.f(f"ix_{table}_deleted_at"), table_name=table)
        op.drop_index(op.f(f"ix_{table}_user_id_updated_at"), table_name=table)
        op.drop_column(table, "deleted_at")
