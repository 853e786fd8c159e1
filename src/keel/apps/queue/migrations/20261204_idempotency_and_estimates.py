"""idempotency_keys, and wait estimates from recent services

idempotency_keys: `POST /bookings` keyed by `Idempotency-Key`, so a retry after a lost answer
gets the same booking (issue 14 item 6). stores.default_service_minutes (the cold-start
estimate) and stores.service_seconds_estimate (a trimmed mean of the recent services) replace
the all-time totals served_count and service_seconds_total; the recent services are read by
bookings (store_id, completed_at) (item 8).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keel.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_keys_scope")),
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False)
    op.create_index(
        "ix_bookings_store_id_completed_at", "bookings", ["store_id", "completed_at"], unique=False
    )
    with op.batch_alter_table("stores") as table:
        table.add_column(sa.Column("default_service_minutes", sa.Double(), nullable=True))
        table.add_column(sa.Column("service_seconds_estimate", sa.Double(), nullable=True))
        table.drop_column("served_count")
        table.drop_column("service_seconds_total")


def downgrade() -> None:
    with op.batch_alter_table("stores") as table:
        table.add_column(sa.Column("service_seconds_total", sa.Integer(), server_default="0", nullable=False))
        table.add_column(sa.Column("served_count", sa.Integer(), server_default="0", nullable=False))
        table.drop_column("service_seconds_estimate")
        table.drop_column("default_service_minutes")
    op.drop_index("ix_bookings_store_id_completed_at", table_name="bookings")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
