"""event channels: events numbered per channel, one stored event per store change

`event_channels` holds each channel's last sequence number, locked and incremented by the
transaction that adds an event, so a channel's events commit in number order with no gap.
`events` is rebuilt keyed by (channel, seq) instead of one autoincrement row per recipient; the
old rows are dropped with it (a live cursor of the earlier design cannot resume across this
upgrade: its client reads the current state again).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keel.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Dropping the table drops its indexes (MariaDB refuses to drop the one its foreign key uses).
    op.drop_table("events")
    op.create_table(
        "event_channels",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_channels")),
    )
    op.create_table(
        "events",
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "seq", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_created_at"), "events", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("event_channels")
    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_events_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_created_at"), "events", ["created_at"], unique=False)
    op.create_index(op.f("ix_events_user_id"), "events", ["user_id"], unique=False)
