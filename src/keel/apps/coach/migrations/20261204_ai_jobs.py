"""AI tasks as jobs: one task per subject, a daily quota, cancel, idempotent submits, resumable events

ai_tasks.subject (the day, range or period a task is about) with a unique (user_id, type,
subject): a second submit answers the stored task. Tasks made before this revision keep a null
subject, which no constraint compares. ai_tasks.runs (a task runs again in place) and
ai_tasks.seq (its event id). ai_usage: tasks started per user and UTC day, against the daily
quota. idempotency_keys: `Idempotency-Key` on the submits.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keel.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ai_tasks") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("runs", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("seq", sa.Integer(), server_default="1", nullable=False))
        batch.create_unique_constraint(op.f("uq_ai_tasks_user_id"), ["user_id", "type", "subject"])
    op.create_table(
        "ai_usage",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_usage_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_ai_usage")),
    )
    op.create_index(op.f("ix_ai_usage_day"), "ai_usage", ["day"], unique=False)
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


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_ai_usage_day"), table_name="ai_usage")
    op.drop_table("ai_usage")
    with op.batch_alter_table("ai_tasks") as batch:
        batch.drop_constraint(op.f("uq_ai_tasks_user_id"), type_="unique")
        batch.drop_column("seq")
        batch.drop_column("runs")
        batch.drop_column("subject")
