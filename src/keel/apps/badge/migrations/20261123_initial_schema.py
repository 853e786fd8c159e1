"""initial schema: users, devices, heartbeats, status, modules, versions, update reports, logs, configs and their history, templates, error codes, alerts, tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:19:12.984180
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keel.core.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "config_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("items", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column(
            "created_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_config_templates_name")),
    )
    op.create_table(
        "error_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("module_name", sa.String(length=64), nullable=True),
        sa.Column("message_zh", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.Column("guide_zh", sa.Text(), nullable=True),
        sa.Column("guide_en", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_error_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_error_codes_code")),
    )
    op.create_table(
        "modules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_name", sa.String(length=64), nullable=False),
        sa.Column("module_type", sa.String(length=32), nullable=False),
        sa.Column("module_version", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("dependencies", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("config_schema", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("api_endpoints", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column(
            "created_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("download_url", sa.String(length=256), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_modules")),
        sa.UniqueConstraint("module_name", name=op.f("uq_modules_module_name")),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=32), nullable=False),
        sa.Column("expires_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_tokens_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), server_default="user", nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("last_login", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("profile_info", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.String(length=16), nullable=False),
        sa.Column("version_type", sa.String(length=16), nullable=False),
        sa.Column("release_notes", sa.Text(), nullable=True),
        sa.Column("download_url", sa.String(length=256), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("is_force_update", sa.Boolean(), nullable=False),
        sa.Column("min_compatible_version", sa.String(length=16), nullable=True),
        sa.Column(
            "created_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("released_at", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("file_key", sa.String(length=128), nullable=True),
        sa.Column("rollout_percentage", sa.Integer(), server_default="1", nullable=False),
        sa.Column("rollout_status", sa.String(length=16), server_default="active", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("version_number", name=op.f("uq_versions_version_number")),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_name", sa.String(length=128), nullable=False),
        sa.Column("device_type", sa.String(length=32), nullable=False),
        sa.Column("hardware_version", sa.String(length=16), nullable=True),
        sa.Column("software_version", sa.String(length=16), nullable=True),
        sa.Column("mac_address", sa.String(length=17), nullable=True),
        sa.Column("ip_address", sa.String(length=15), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="offline", nullable=False),
        sa.Column("last_heartbeat", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column(
            "created_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("config_version", sa.String(length=16), nullable=True),
        sa.Column("location_info", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("device_info", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_devices_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("device_id", name=op.f("uq_devices_device_id")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_last_heartbeat", ["last_heartbeat"], unique=False)

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("device", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_refresh_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refresh_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_alert_rules_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_table(
        "configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("module_name", sa.String(length=64), nullable=True),
        sa.Column("config_key", sa.String(length=128), nullable=False),
        sa.Column("config_value", sa.Text(), nullable=False),
        sa.Column("config_type", sa.String(length=16), server_default="string", nullable=False),
        sa.Column("is_encrypted", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("version", sa.String(length=16), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_configs_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["module_name"],
            ["modules.module_name"],
            name=op.f("fk_configs_module_name_modules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configs")),
        sa.UniqueConstraint("device_id", "module_name", "config_key", name=op.f("uq_configs_device_id")),
    )
    with op.batch_alter_table("configs", schema=None) as batch_op:
        batch_op.create_index("ix_configs_module_name", ["module_name"], unique=False)

    op.create_table(
        "device_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("received_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("modules", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("performance", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_device_status_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_status")),
    )
    with op.batch_alter_table("device_status", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_status_device_id_received_at", ["device_id", "received_at"], unique=False
        )

    op.create_table(
        "error_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("error_code", sa.String(length=16), nullable=False),
        sa.Column("error_level", sa.String(length=16), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("error_details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("module_name", sa.String(length=64), nullable=True),
        sa.Column("stack_trace", sa.Text(), nullable=True),
        sa.Column(
            "occurred_at",
            keel.core.db.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("resolved_at", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_error_logs_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_error_logs")),
    )
    with op.batch_alter_table("error_logs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_error_logs_device_id_occurred_at", ["device_id", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_error_logs_error_code", ["error_code"], unique=False)
        batch_op.create_index("ix_error_logs_error_level", ["error_level"], unique=False)
        batch_op.create_index("ix_error_logs_module_name", ["module_name"], unique=False)
        batch_op.create_index("ix_error_logs_occurred_at", ["occurred_at"], unique=False)

    op.create_table(
        "heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("received_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cpu_usage", sa.Double(), nullable=True),
        sa.Column("memory_usage", sa.Double(), nullable=True),
        sa.Column("temperature", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_heartbeats_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeats")),
    )
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.create_index(
            "ix_heartbeats_device_id_received_at", ["device_id", "received_at"], unique=False
        )

    op.create_table(
        "update_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("from_version", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reported_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_update_reports_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_update_reports_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_update_reports")),
    )
    with op.batch_alter_table("update_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_update_reports_device_id"), ["device_id"], unique=False)
        batch_op.create_index("ix_update_reports_version_id_status", ["version_id", "status"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
            name=op.f("fk_alerts_acknowledged_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_alerts_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alert_rules.id"], name=op.f("fk_alerts_rule_id_alert_rules"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_alerts_rule_id_device_id", ["rule_id", "device_id"], unique=False)

    op.create_table(
        "config_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("config_value", sa.Text(), nullable=False),
        sa.Column("config_type", sa.String(length=16), nullable=False),
        sa.Column("is_encrypted", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("changed_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["configs.id"],
            name=op.f("fk_config_history_config_id_configs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_history")),
        sa.UniqueConstraint("config_id", "version", name=op.f("uq_config_history_config_id")),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop one a foreign key still needs).
    op.drop_table("config_history")
    op.drop_table("alerts")
    op.drop_table("update_reports")
    op.drop_table("heartbeats")
    op.drop_table("error_logs")
    op.drop_table("device_status")
    op.drop_table("configs")
    op.drop_table("alert_rules")
    op.drop_table("refresh_tokens")
    op.drop_table("devices")
    op.drop_table("versions")
    op.drop_table("users")
    op.drop_table("revoked_tokens")
    op.drop_table("modules")
    op.drop_table("error_codes")
    op.drop_table("config_templates")
