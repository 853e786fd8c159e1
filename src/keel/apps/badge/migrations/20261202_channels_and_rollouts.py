"""device channels, rollouts in waves that stop themselves, per-badge deployments

Issue 17 items 4 and 5: devices.channel (every existing badge is on `stable`, so it keeps
seeing exactly the versions it saw as a stable badge, where a beta release reached it before);
versions' wave plan, failure threshold, auto rollback and rollback target; the deployments
table, one row per badge per version it was sent or reported on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:00:00
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


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=16), server_default="stable", nullable=False)
        )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "rollout_waves", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("rollout_wave", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("wave_started_at", keel.core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("failure_threshold_percent", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("failure_min_reports", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("auto_rollback", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("paused_reason", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("rollback_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rollout_round", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_versions_rollback_version_id_versions"),
            "versions",
            ["rollback_version_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("from_version", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_deployments_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_deployments_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("version_id", "device_id", name=op.f("uq_deployments_version_id")),
    )
    op.create_index(op.f("ix_deployments_device_id"), "deployments", ["device_id"], unique=False)
    op.create_index("ix_deployments_version_id_state", "deployments", ["version_id", "state"], unique=False)
    op.create_index("ix_deployments_version_id_round", "deployments", ["version_id", "round"], unique=False)


def downgrade() -> None:
    # Its indexes go with it (MariaDB refuses to drop one a foreign key uses first).
    op.drop_table("deployments")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_versions_rollback_version_id_versions"), type_="foreignkey")
        batch_op.drop_column("rollout_round")
        batch_op.drop_column("rollback_version_id")
        batch_op.drop_column("paused_reason")
        batch_op.drop_column("auto_rollback")
        batch_op.drop_column("failure_min_reports")
        batch_op.drop_column("failure_threshold_percent")
        batch_op.drop_column("wave_started_at")
        batch_op.drop_column("rollout_wave")
        batch_op.drop_column("rollout_waves")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("channel")
