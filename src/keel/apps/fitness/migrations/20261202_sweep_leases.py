"""sweep_leases, and the indexes retention prunes by

sweep_leases: one row per periodic sweep, claimed once per interval by one process of the
deployment (core/sweeps.py). Indexes on refresh_tokens.expires_at, mail_outbox.created_at, password_reset_codes.expires_at: retention deletes old rows by them
(core/retention.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keel.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweep_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("due_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("last_run_at", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sweep_leases")),
    )
    op.create_index(op.f("ix_refresh_tokens_expires_at"), "refresh_tokens", ["expires_at"], unique=False)
    op.create_index(op.f("ix_mail_outbox_created_at"), "mail_outbox", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_password_reset_codes_expires_at"), "password_reset_codes", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_password_reset_codes_expires_at"), table_name="password_reset_codes")
    op.drop_index(op.f("ix_mail_outbox_created_at"), table_name="mail_outbox")
    op.drop_index(op.f("ix_refresh_tokens_expires_at"), table_name="refresh_tokens")
    op.drop_table("sweep_leases")
