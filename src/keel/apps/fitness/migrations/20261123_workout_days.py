"""workout_days: the days with a workout in each user's time zone, which the streak counts

Filled from the sessions already stored, each user's in their own time zone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:20:00
"""

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import keel.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    days = op.create_table(
        "workout_days",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_workout_days_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_workout_days")),
    )
    sessions = sa.table(
        "workout_sessions",
        sa.column("user_id", sa.Integer()),
        sa.column("start_time", keel.core.db.UTCDateTime()),
    )
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("timezone", sa.String()))
    rows = op.get_bind().execute(
        sa.select(sessions.c.user_id, users.c.timezone, sessions.c.start_time).join(
            users, users.c.id == sessions.c.user_id
        )
    )
    found = {(user_id, start.astimezone(ZoneInfo(zone)).date()) for user_id, zone, start in rows}
    if found:
        op.bulk_insert(days, [{"user_id": user_id, "day": day} for user_id, day in sorted(found)])


def downgrade() -> None:
    op.drop_table("workout_days")
