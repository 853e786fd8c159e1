"""The fitness tables (spec 000, section 3), and the ones the core's features need."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

from keel.core.db import JSONColumn, JSONDocument, utcnow
from keel.core.idempotency_models import IdempotencyKeyMixin
from keel.core.mail_models import OutboxMixin
from keel.core.models import TableBase
from keel.core.security.models import PasswordResetCodeMixin, RefreshTokenMixin, RevokedTokenMixin
from keel.core.sweeps import SweepLeaseMixin


class Base(TableBase, DeclarativeBase):
    """Every fitness table."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4, unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Null for accounts made by signing in with Apple, Google or Facebook.
    hashed_password: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    gender: Mapped[str] = mapped_column(String(1), default="o", server_default="o")
    height_cm: Mapped[float | None]
    weight_kg: Mapped[float | None]
    # Streaks count days where the user lives.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class SocialAccount(Base):
    __tablename__ = "social_accounts"
    __table_args__ = (UniqueConstraint("provider", "provider_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))  # apple, google, facebook
    provider_uid: Mapped[str] = mapped_column(String(255))
    extra_data: Mapped[dict[str, Any]] = mapped_column(JSONColumn, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class UserStat(Base):
    __tablename__ = "user_stats"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    total_distance_km: Mapped[float] = mapped_column(default=0.0, server_default="0")
    total_duration_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    total_calories: Mapped[float] = mapped_column(default=0.0, server_default="0")
    total_xp: Mapped[int] = mapped_column(default=0, server_default="0")
    current_level: Mapped[int] = mapped_column(default=1, server_default="1")
    workout_streak_days: Mapped[int] = mapped_column(default=0, server_default="0")
    last_workout_date: Mapped[datetime | None]
    # What the app's last overwrite (PATCH /users/me/stats) set, which later sessions build on
    # (services/stats.py): when it was, the level it gave, the streak it gave and the last
    # workout that streak ends with.
    set_at: Mapped[datetime | None]
    set_level: Mapped[int | None]
    set_streak_days: Mapped[int | None]
    set_last_workout_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class WorkoutDay(Base):
    """A day, in the user's time zone, with at least one workout: what the streak counts. One
    row per day however many sessions it had, so the streak reads days, not sessions."""

    __tablename__ = "workout_days"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)


class Training(Base):
    __tablename__ = "trainings"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), index=True)  # course, game, free
    cover_url: Mapped[str] = mapped_column(String(2048))
    video_url: Mapped[str | None] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONColumn, default=dict)  # the resistance script
    supported_devices: Mapped[list[str]] = mapped_column(JSONColumn, default=list)
    enabled: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class WorkoutSession(Base):
    __tablename__ = "workout_sessions"
    # The phone's own id for a session, unique per user: the key that makes uploads idempotent.
    __table_args__ = (
        UniqueConstraint("user_id", "client_session_id"),
        Index("ix_workout_sessions_user_id_start_time", "user_id", "start_time"),
        # The change feed reads a user's sessions by when they were stored.
        Index("ix_workout_sessions_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    client_session_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source_type: Mapped[str] = mapped_column(String(16), index=True)  # backend, local, free
    training_id: Mapped[int | None] = mapped_column(ForeignKey("trainings.id", ondelete="SET NULL"))
    internal_course_name: Mapped[str | None] = mapped_column(String(255))
    device_type: Mapped[str] = mapped_column(String(16), index=True)  # bike, rower, treadmill
    start_time: Mapped[datetime]
    end_time: Mapped[datetime]
    duration_seconds: Mapped[int]
    total_calories: Mapped[float]
    total_distance_meters: Mapped[float]
    xp_earned: Mapped[int] = mapped_column(default=0)
    metrics_summary: Mapped[dict[str, Any]] = mapped_column(JSONColumn, default=dict)
    # Up to 20,000 points: only loaded for one session's detail, never for lists.
    time_series_data: Mapped[list[dict[str, Any]]] = deferred(mapped_column(JSONDocument(), default=list))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class SessionTombstone(Base):
    """A deleted session, remembered (for KEEL_RETENTION_TOMBSTONES_DAYS) so a phone that
    uploads it again does not bring it back, and another phone learns it is gone."""

    __tablename__ = "session_tombstones"
    __table_args__ = (
        UniqueConstraint("user_id", "client_session_id"),
        Index("ix_session_tombstones_user_id_deleted_at", "user_id", "deleted_at"),
    )

    # The server id the session had.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_session_id: Mapped[str] = mapped_column(String(64))
    deleted_at: Mapped[datetime] = mapped_column(index=True)


class AppVersion(Base):
    __tablename__ = "app_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), unique=True)  # ios, android
    latest_version: Mapped[str] = mapped_column(String(32))
    min_supported_version: Mapped[str] = mapped_column(String(32))
    store_url: Mapped[str] = mapped_column(String(2048))
    release_notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class PasswordResetCode(PasswordResetCodeMixin, Base):
    pass


class RefreshToken(RefreshTokenMixin, Base):
    pass


class RevokedToken(RevokedTokenMixin, Base):
    pass


class MailOutbox(OutboxMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    pass


class SweepLease(SweepLeaseMixin, Base):
    pass


# Retention prunes by these columns (core/retention.py).
Index("ix_refresh_tokens_expires_at", RefreshToken.expires_at)
