"""a store's day and its staff (issue 14 items 1 and 4)

stores: time_zone (existing stores take Asia/Taipei, the spec's), opening_hours (null: always
open), accepting_bookings, end_of_day_no_show (null: the deployment's setting). bookings:
walk_in_name, for a walk-in queued by the store's staff. store_staff: the users the owner lets
run the line.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keel.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stores", sa.Column("time_zone", sa.String(length=64), server_default="Asia/Taipei", nullable=False)
    )
    op.add_column(
        "stores",
        sa.Column("opening_hours", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
    )
    op.add_column(
        "stores", sa.Column("accepting_bookings", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("stores", sa.Column("end_of_day_no_show", sa.Boolean(), nullable=True))
    op.add_column("bookings", sa.Column("walk_in_name", sa.String(length=100), nullable=True))
    op.create_table(
        "store_staff",
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_store_staff_store_id_stores"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_store_staff_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("store_id", "user_id", name=op.f("pk_store_staff")),
    )
    op.create_index(op.f("ix_store_staff_user_id"), "store_staff", ["user_id"], unique=False)


def downgrade() -> None:
    # The table's index goes with it (MariaDB refuses to drop an index a foreign key needs).
    op.drop_table("store_staff")
    op.drop_column("bookings", "walk_in_name")
    op.drop_column("stores", "end_of_day_no_show")
    op.drop_column("stores", "accepting_bookings")
    op.drop_column("stores", "opening_hours")
    op.drop_column("stores", "time_zone")
