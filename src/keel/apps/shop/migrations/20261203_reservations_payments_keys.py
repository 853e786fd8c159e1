"""idempotency_keys, expiring reservations and payment states, usernames in any script

idempotency_keys: checkouts keyed by `Idempotency-Key`, answered once across every process
(issue 13 item 1). orders.expires_at and its (status, expires_at) index: an unpaid order's
stock is held until then, and the sweep finds lapsed ones by it (item 2). payment_reference,
payment_error, refunded_at, refund_amount, cancel_reason: the payment's states (item 3).
users.username_key: the username NFKC-normalised and case-folded, unique, so names compare
the same in any script (item 6); filled here for the users there are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 00:00:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keel.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _username_keys() -> None:
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("username"), sa.column("username_key"))
    bind = op.get_bind()
    seen: set[str] = set()
    for user_id, username in bind.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)):
        key = unicodedata.normalize("NFKC", username).casefold()
        # Names that differed only in case were allowed before: the later ones keep their
        # name, and their key says which user it is, so none is refused at sign-in or merged.
        if key in seen:
            key = f"{key}#{user_id}"
        seen.add(key)
        bind.execute(sa.update(users).where(users.c.id == user_id).values(username_key=key))


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
    op.add_column("orders", sa.Column("expires_at", keel.core.db.UTCDateTime(), nullable=True))
    op.add_column("orders", sa.Column("payment_reference", sa.String(length=255), nullable=True))
    op.add_column("orders", sa.Column("payment_error", sa.String(length=500), nullable=True))
    op.add_column("orders", sa.Column("refunded_at", keel.core.db.UTCDateTime(), nullable=True))
    op.add_column("orders", sa.Column("refund_amount", sa.Numeric(precision=14, scale=2), nullable=True))
    op.add_column("orders", sa.Column("cancel_reason", sa.String(length=32), nullable=True))
    op.create_index("ix_orders_status_expires_at", "orders", ["status", "expires_at"], unique=False)
    op.add_column("users", sa.Column("username_key", sa.String(length=255), nullable=True))
    _username_keys()
    with op.batch_alter_table("users") as table:
        table.alter_column("username_key", existing_type=sa.String(length=255), nullable=False)
        table.create_unique_constraint(op.f("uq_users_username_key"), ["username_key"])


def downgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.drop_constraint(op.f("uq_users_username_key"), type_="unique")
        table.drop_column("username_key")
    op.drop_index("ix_orders_status_expires_at", table_name="orders")
    with op.batch_alter_table("orders") as table:
        table.drop_column("cancel_reason")
        table.drop_column("refund_amount")
        table.drop_column("refunded_at")
        table.drop_column("payment_error")
        table.drop_column("payment_reference")
        table.drop_column("expires_at")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
