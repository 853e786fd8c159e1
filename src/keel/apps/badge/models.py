"""The badge tables (spec 004, "数据库表结构"), the history tables the spec's features need
(heartbeats, status reports, config history, update reports, alerts), and the core's token tables."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keel.core.db import JSONColumn, utcnow
from keel.core.idempotency_models import IdempotencyKeyMixin
from keel.core.models import TableBase
from keel.core.security.models import RefreshTokenMixin, RevokedTokenMixin
from keel.core.sweeps import SweepLeaseMixin


class Base(TableBase, DeclarativeBase):
    """Every badge table."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
    last_login: Mapped[datetime | None]
    profile_info: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_last_heartbeat", "last_heartbeat"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    device_name: Mapped[str] = mapped_column(String(128))
    device_type: Mapped[str] = mapped_column(String(32))
    hardware_version: Mapped[str | None] = mapped_column(String(16))
    software_version: Mapped[str | None] = mapped_column(String(16))
    mac_address: Mapped[str | None] = mapped_column(String(17))
    ip_address: Mapped[str | None] = mapped_column(String(15))
    # What the device last said about itself; online/offline as answered follows last_heartbeat.
    status: Mapped[str] = mapped_column(String(16), default="offline", server_default="offline")
    last_heartbeat: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
    # Issue 17 item 8: the user the badge is bound to; a `user` sees and changes only theirs.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    config_version: Mapped[str | None] = mapped_column(String(16))
    location_info: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    device_info: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    # The HMAC key for the device's signed requests, encrypted with the server's key: it has to
    # be recoverable to check signatures, so it cannot be hashed like a password.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # Issue 17 item 6, the config shadow: the device's desired version, one more on every change
    # of its own keys; `config_version` is the one it last reported fully applied.
    desired_config_version: Mapped[str | None] = mapped_column(String(16))
    # Issue 17 item 7: when the broker said the device went away (its will message); cleared by
    # its next heartbeat or connection. Online needs a recent heartbeat and no such mark.
    offline_at: Mapped[datetime | None]
    # Issue 17, bad MQTT payloads: how many of the device's messages were dropped, and why the last.
    rejected: Mapped[int] = mapped_column(default=0, server_default="0")
    last_rejected_reason: Mapped[str | None] = mapped_column(String(512))
    last_rejected_at: Mapped[datetime | None]
    # Issue 17 item 4: which versions reach the device: stable ones on every channel, beta ones
    # on beta and alpha, alpha ones on alpha only (services/versions.py AUDIENCE).
    channel: Mapped[str] = mapped_column(String(16), default="stable", server_default="stable")
    # Issue 17 item 1: the SHA-256 of the badge's MQTT password (its username is its device_id),
    # set while it has a broker identity; the EMQX hooks check it (services/broker.py).
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(64))


class Heartbeat(Base):
    __tablename__ = "heartbeats"
    __table_args__ = (
        Index("ix_heartbeats_device_id_received_at", "device_id", "received_at"),
        Index("ix_heartbeats_received_at", "received_at"),  # retention
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    cpu_usage: Mapped[float | None]
    memory_usage: Mapped[float | None]
    temperature: Mapped[float | None]


class DeviceStatus(Base):
    __tablename__ = "device_status"
    __table_args__ = (
        Index("ix_device_status_device_id_received_at", "device_id", "received_at"),
        Index("ix_device_status_received_at", "received_at"),  # retention
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    modules: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    performance: Mapped[dict[str, Any]] = mapped_column(JSONColumn)


class Module(Base):
    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_name: Mapped[str] = mapped_column(String(64), unique=True)
    module_type: Mapped[str] = mapped_column(String(32))
    module_version: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    # {"other_module": ">=1.2.0,<2.0.0"}
    dependencies: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    # A JSON Schema object whose `properties` describe the module's config keys.
    config_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    api_endpoints: Mapped[list[Any] | None] = mapped_column(JSONColumn)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
    is_active: Mapped[bool] = mapped_column(default=True)
    download_url: Mapped[str | None] = mapped_column(String(256))
    checksum: Mapped[str | None] = mapped_column(String(64))


class Version(Base):
    __tablename__ = "versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_number: Mapped[str] = mapped_column(String(16), unique=True)
    version_type: Mapped[str] = mapped_column(String(16))  # stable, beta, alpha
    release_notes: Mapped[str | None] = mapped_column(Text)
    download_url: Mapped[str | None] = mapped_column(String(256))
    file_size: Mapped[int | None]
    checksum: Mapped[str | None] = mapped_column(String(64))
    is_force_update: Mapped[bool] = mapped_column(default=False)
    min_compatible_version: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    released_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    # The stored firmware file (core storage key).
    file_key: Mapped[str | None] = mapped_column(String(128))
    # Staged rollout: devices whose bucket (from their id) is below the percentage get it.
    rollout_percentage: Mapped[int] = mapped_column(default=100, server_default="1")
    rollout_status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # Issue 17 item 5, a rollout in waves: its stages [{"percentage", "soak_minutes"}], the last
    # being the target; the stage it is at and since when. Null stages: a one-step rollout.
    rollout_waves: Mapped[list[Any] | None] = mapped_column(JSONColumn)
    rollout_wave: Mapped[int] = mapped_column(default=0, server_default="0")
    wave_started_at: Mapped[datetime | None]
    # Past this share of failed outcomes (of at least failure_min_reports), the rollout pauses
    # itself; with auto_rollback it is rolled back instead.
    failure_threshold_percent: Mapped[int | None]
    failure_min_reports: Mapped[int] = mapped_column(default=1, server_default="1")
    auto_rollback: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Why the rollout stopped by itself (null when an admin paused it, or it runs).
    paused_reason: Mapped[str | None] = mapped_column(String(256))
    # After a rollback, the version pushed to (and offered by the check to) badges running this one.
    rollback_version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id", ondelete="SET NULL"))
    # One more each time the rollout reaches more badges; a deployment keeps the round that
    # created it, so each round's push pages through exactly its own badges.
    rollout_round: Mapped[int] = mapped_column(default=0, server_default="0")


class Deployment(Base):
    """Issue 17 item 5: one badge's progress with one version, as it last reported it
    (`queued` until it reports anything)."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("version_id", "device_id"),
        Index("ix_deployments_version_id_state", "version_id", "state"),
        Index("ix_deployments_version_id_round", "version_id", "round"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"), index=True)
    # queued, downloading, installing, success, failed, rolled_back
    state: Mapped[str] = mapped_column(String(16), default="queued")
    # The rollout round that reached the badge (0: it reported before any round reached it).
    round: Mapped[int] = mapped_column(default=0)
    # What the badge ran before (its software version when reached, or what it reported).
    from_version: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UpdateReport(Base):
    __tablename__ = "update_reports"
    __table_args__ = (Index("ix_update_reports_version_id_status", "version_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    from_version: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # a deployment state the device reported
    error: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErrorLog(Base):
    __tablename__ = "error_logs"
    __table_args__ = (
        Index("ix_error_logs_device_id_occurred_at", "device_id", "occurred_at"),
        Index("ix_error_logs_occurred_at", "occurred_at"),
        Index("ix_error_logs_error_level", "error_level"),
        Index("ix_error_logs_module_name", "module_name"),
        Index("ix_error_logs_error_code", "error_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"))
    # Empty for a log that carries no code (most info logs).
    error_code: Mapped[str] = mapped_column(String(16))
    error_level: Mapped[str] = mapped_column(String(16))  # critical, error, warning, info
    error_message: Mapped[str] = mapped_column(Text)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    module_name: Mapped[str | None] = mapped_column(String(64))
    stack_trace: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)


class Config(Base):
    __tablename__ = "configs"
    __table_args__ = (
        UniqueConstraint("device_id", "module_name", "config_key"),
        Index("ix_configs_module_name", "module_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"))
    module_name: Mapped[str | None] = mapped_column(ForeignKey("modules.module_name", ondelete="CASCADE"))
    config_key: Mapped[str] = mapped_column(String(128))
    # Encrypted values hold the Fernet token of the value.
    config_value: Mapped[str] = mapped_column(Text)
    config_type: Mapped[str] = mapped_column(String(16), default="string", server_default="string")
    is_encrypted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
    # "1", "2", ... one more on every change.
    version: Mapped[str] = mapped_column(String(16), default="1", server_default="1")
    # Issue 17 item 6: the version the device reported applied (device keys only); the key is in
    # the delta while it differs from `version`.
    reported_version: Mapped[str | None] = mapped_column(String(16))
    reported_at: Mapped[datetime | None]


class ConfigHistory(Base):
    __tablename__ = "config_history"
    __table_args__ = (UniqueConstraint("config_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("configs.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(16))
    config_value: Mapped[str] = mapped_column(Text)
    config_type: Mapped[str] = mapped_column(String(16))
    is_encrypted: Mapped[bool]
    changed_by: Mapped[str | None] = mapped_column(String(64))
    change: Mapped[str] = mapped_column(String(16))  # set, rollback, batch, template
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConfigTemplate(Base):
    __tablename__ = "config_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # [{"module_name", "config_key", "config_value", "config_type"}]
    items: Mapped[list[Any]] = mapped_column(JSONColumn)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ErrorCode(Base):
    __tablename__ = "error_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    level: Mapped[str] = mapped_column(String(16))
    module_name: Mapped[str | None] = mapped_column(String(64))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    guide_zh: Mapped[str | None] = mapped_column(Text)
    guide_en: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # critical_logs, device_offline
    # critical_logs: this many critical logs of one device within window_minutes.
    threshold: Mapped[int] = mapped_column(default=1)
    window_minutes: Mapped[int] = mapped_column(default=5)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_id_device_id", "rule_id", "device_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Issue 17 item 7: an offline alert resolves itself when the device comes back.
    resolved_at: Mapped[datetime | None]


class RefreshToken(RefreshTokenMixin, Base):
    pass


class RevokedToken(RevokedTokenMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Issue 17 item 3: the signatures of state-changing device requests already run, with
    their answers, shared by every process (deps.py)."""


class SweepLease(SweepLeaseMixin, Base):
    pass


class HeartbeatDaily(Base):
    """Issue 17 item 9: one row per device per UTC day, rolled up from its heartbeats and kept
    longer than they are (KEEL_RETENTION_HEARTBEAT_ROLLUPS_DAYS)."""

    __tablename__ = "heartbeat_daily"
    __table_args__ = (
        UniqueConstraint("device_id", "day"),
        Index("ix_heartbeat_daily_day", "day"),  # retention
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id", ondelete="CASCADE"))
    day: Mapped[date]
    count: Mapped[int]
    cpu_min: Mapped[float | None]
    cpu_avg: Mapped[float | None]
    cpu_max: Mapped[float | None]
    memory_min: Mapped[float | None]
    memory_avg: Mapped[float | None]
    memory_max: Mapped[float | None]
    temperature_min: Mapped[float | None]
    temperature_avg: Mapped[float | None]
    temperature_max: Mapped[float | None]


# Retention prunes by these columns (core/retention.py).
Index("ix_refresh_tokens_expires_at", RefreshToken.expires_at)
