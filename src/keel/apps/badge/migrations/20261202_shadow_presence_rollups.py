"""device shadow, presence, rejected payloads, alert resolution, daily heartbeat rollups

Issue 17 items 6, 7, 9 and the rejected-payload counter: devices.desired_config_version (the
desired side of the config shadow; config_version becomes the applied side), offline_at (the
broker's will message), rejected / last_rejected_reason / last_rejected_at; configs.reported_version
and reported_at; alerts.resolved_at; the heartbeat_daily table.

Existing data: a device's config_version so far counted its changes, which were pushed as they
happened, so it becomes the desired version too and every existing key counts as applied at its
version (reported_version = version): upgrading does not push every key of the fleet again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keel.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("desired_config_version", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("offline_at", keel.core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("rejected", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_rejected_reason", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("last_rejected_at", keel.core.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("configs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_version", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reported_at", keel.core.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", keel.core.db.UTCDateTime(), nullable=True))
    op.execute("UPDATE devices SET desired_config_version = config_version")
    op.execute("UPDATE configs SET reported_version = version WHERE device_id IS NOT NULL")
    op.create_table(
        "heartbeat_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("cpu_min", sa.Double(), nullable=True),
        sa.Column("cpu_avg", sa.Double(), nullable=True),
        sa.Column("cpu_max", sa.Double(), nullable=True),
        sa.Column("memory_min", sa.Double(), nullable=True),
        sa.Column("memory_avg", sa.Double(), nullable=True),
        sa.Column("memory_max", sa.Double(), nullable=True),
        sa.Column("temperature_min", sa.Double(), nullable=True),
        sa.Column("temperature_avg", sa.Double(), nullable=True),
        sa.Column("temperature_max", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_heartbeat_daily_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeat_daily")),
        sa.UniqueConstraint("device_id", "day", name=op.f("uq_heartbeat_daily_device_id")),
    )
    op.create_index("ix_heartbeat_daily_day", "heartbeat_daily", ["day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_heartbeat_daily_day", table_name="heartbeat_daily")
    op.drop_table("heartbeat_daily")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")
    with op.batch_alter_table("configs", schema=None) as batch_op:
        batch_op.drop_column("reported_at")
        batch_op.drop_column("reported_version")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("last_rejected_at")
        batch_op.drop_column("last_rejected_reason")
        batch_op.drop_column("rejected")
        batch_op.drop_column("offline_at")
        batch_op.drop_column("desired_config_version")
