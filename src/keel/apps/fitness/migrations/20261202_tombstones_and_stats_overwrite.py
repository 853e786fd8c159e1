"""session_tombstones, the change feed's index, and what the app's stats overwrite set

session_tombstones: a deleted session's client id and server id, so a phone uploading it again
does not bring it back and another phone learns of the deletion (GET /sessions?updated_since=).
ix_workout_sessions_user_id_created_at: the change feed reads a user's sessions by it.
user_stats.set_at, set_level, set_streak_days, set_last_workout_at: the app's last PATCH
/users/me/stats, which later sessions build on instead of counting its sessions again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keel.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_tombstones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("client_session_id", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_session_tombstones_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_tombstones")),
        sa.UniqueConstraint("user_id", "client_session_id", name=op.f("uq_session_tombstones_user_id")),
    )
    op.create_index(
        op.f("ix_session_tombstones_deleted_at"), "session_tombstones", ["deleted_at"], unique=False
    )
    op.create_index(
        "ix_session_tombstones_user_id_deleted_at",
        "session_tombstones",
        ["user_id", "deleted_at"],
        unique=False,
    )
    op.create_index(
        "ix_workout_sessions_user_id_created_at", "workout_sessions", ["user_id", "created_at"], unique=False
    )
    op.add_column("user_stats", sa.Column("set_at", keel.core.db.UTCDateTime(), nullable=True))
    op.add_column("user_stats", sa.Column("set_level", sa.Integer(), nullable=True))
    op.add_column("user_stats", sa.Column("set_streak_days", sa.Integer(), nullable=True))
    op.add_column("user_stats", sa.Column("set_last_workout_at", keel.core.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_stats") as table:
        table.drop_column("set_last_workout_at")
        table.drop_column("set_streak_days")
        table.drop_column("set_level")
        table.drop_column("set_at")
    op.drop_index("ix_workout_sessions_user_id_created_at", table_name="workout_sessions")
    op.drop_index("ix_session_tombstones_user_id_deleted_at", table_name="session_tombstones")
    op.drop_index(op.f("ix_session_tombstones_deleted_at"), table_name="session_tombstones")
    op.drop_table("session_tombstones")
