"""idempotency_keys for signed device requests, and the index for badges by owner

idempotency_keys: the signatures of state-changing device requests already run, with their
answers, so a repeat is answered once across every process (issue 17 item 3). An index on
devices.user_id: a `user` lists only the badges bound to them (issue 17 item 8).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00
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

_USER_FK = "fk_devices_user_id_users"


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
    op.create_index(op.f("ix_devices_user_id"), "devices", ["user_id"], unique=False)


def downgrade() -> None:
    mysql = op.get_bind().dialect.name == "mysql"
    # MySQL/MariaDB let the new index stand in for the foreign key's own and then refuse to
    # drop it: the key goes first and comes back with an index of its own.
    if mysql:
        op.drop_constraint(_USER_FK, "devices", type_="foreignkey")
    op.drop_index(op.f("ix_devices_user_id"), table_name="devices")
    if mysql:
        op.create_foreign_key(_USER_FK, "devices", "users", ["user_id"], ["id"], ondelete="SET NULL")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
