"""The coach tables (spec 001, section 4.1), and the ones the core's features need."""

import datetime as dt
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keel.core.db import JSONColumn, utcnow
from keel.core.idempotency_models import IdempotencyKeyMixin
from keel.core.jobs import JobMixin
from keel.core.mail_models import OutboxMixin
from keel.core.models import TableBase
from keel.core.security.models import (
    PasswordResetCodeMixin,
    RefreshTokenMixin,
    RevokedTokenMixin,
    SessionMixin,
)
from keel.core.sweeps import SweepLeaseMixin


class Base(TableBase, DeclarativeBase):
    """Every coach table."""


# Integer ids a client sees (a user's; a day log's, in the export) are never given again on
# SQLite either: without AUTOINCREMENT it reuses the highest rowid once that row is deleted, and
# an erased account's id would name a new one, with the old one's audit rows. PostgreSQL and
# MariaDB never reuse ids, and ignore the option.
NEVER_REUSED = {"sqlite_autoincrement": True}


class User(Base):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    # Either or both: the spec signs people in by email or by phone number.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(100))
    # Day logs are days where the user lives.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    privacy_policy_version: Mapped[str] = mapped_column(String(32))
    privacy_accepted_at: Mapped[datetime]
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class DayLog(Base):
    __tablename__ = "day_logs"
    __table_args__ = (UniqueConstraint("user_id", "date"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, reviewed
    note: Mapped[str | None] = mapped_column(Text)
    # The last good night review and plan: a failed retry never replaces them.
    ai_report: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    ai_plan: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# The day logs' change feed reads by it (services/daylogs.py).
Index("ix_day_logs_user_id_updated_at", DayLog.user_id, DayLog.updated_at)


class RecordColumns:
    """What every dimension's record has: the client may choose the id (its offline copy's)."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every write stamps it, deletion too: the change feed orders by it.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # A deleted record stays as its tombstone (for KEEL_RETENTION_TOMBSTONES_DAYS), so another
    # device's change feed learns of the deletion; every other read skips it.
    deleted_at: Mapped[datetime | None]


def _indexes(table: str) -> tuple[Index, ...]:
    """A record table's indexes: its lists by day, its change feed, and retention's prune of
    its tombstones."""
    return (
        Index(f"ix_{table}_user_id_date", "user_id", "date"),
        Index(f"ix_{table}_user_id_updated_at", "user_id", "updated_at"),
        Index(f"ix_{table}_deleted_at", "deleted_at"),
    )


def _owner() -> Mapped[int]:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


def _day_log() -> Mapped[int]:
    return mapped_column(ForeignKey("day_logs.id", ondelete="CASCADE"), index=True)


class Workout(RecordColumns, Base):
    __tablename__ = "workouts"
    __table_args__ = _indexes("workouts")

    user_id: Mapped[int] = _owner()
    day_log_id: Mapped[int] = _day_log()
    kind: Mapped[str] = mapped_column(String(64))
    minutes: Mapped[int]
    calories: Mapped[float | None]


class Meal(RecordColumns, Base):
    __tablename__ = "meals"
    __table_args__ = _indexes("meals")

    user_id: Mapped[int] = _owner()
    day_log_id: Mapped[int] = _day_log()
    kind: Mapped[str] = mapped_column(String(16))  # breakfast, lunch, dinner, snack
    calories: Mapped[float | None]
    items: Mapped[list[str]] = mapped_column(JSONColumn, default=list)


class Sleep(RecordColumns, Base):
    __tablename__ = "sleeps"
    __table_args__ = _indexes("sleeps")

    user_id: Mapped[int] = _owner()
    day_log_id: Mapped[int] = _day_log()
    bed_time: Mapped[datetime]
    wake_time: Mapped[datetime]
    # Kept beside the times so totals are one SUM on every dialect.
    duration_minutes: Mapped[int]
    quality: Mapped[int | None]


class WorkNote(RecordColumns, Base):
    __tablename__ = "work_notes"
    __table_args__ = _indexes("work_notes")

    user_id: Mapped[int] = _owner()
    day_log_id: Mapped[int] = _day_log()
    focus_minutes: Mapped[int]
    tasks_done: Mapped[int | None]
    summary: Mapped[str | None] = mapped_column(Text)


class Reading(RecordColumns, Base):
    __tablename__ = "readings"
    __table_args__ = _indexes("readings")

    user_id: Mapped[int] = _owner()
    day_log_id: Mapped[int] = _day_log()
    title: Mapped[str] = mapped_column(String(255))
    pages: Mapped[int | None]
    minutes: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(Text)


class DayTotal(Base):
    """Each dimension's sum and number of records per user and day, kept by every record write
    in its own transaction: stats read a row per day and dimension, however many records the
    days hold. The sums: sleep and workout, work focus and reading minutes; meal calories."""

    __tablename__ = "day_totals"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[float] = mapped_column(default=0.0)
    records: Mapped[int] = mapped_column(default=0)


class Target(Base):
    """The day's goals the score and the stats measure against."""

    __tablename__ = "targets"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    sleep_hours: Mapped[float] = mapped_column(default=8.0)
    workout_minutes: Mapped[int] = mapped_column(default=30)
    calories: Mapped[int] = mapped_column(default=2000)
    focus_minutes: Mapped[int] = mapped_column(default=240)
    reading_minutes: Mapped[int] = mapped_column(default=30)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserSettings(Base):
    """Reminders and the AI's voice; one row per user."""

    __tablename__ = "user_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    notifications: Mapped[dict[str, Any]] = mapped_column(JSONColumn, default=dict)
    ai_style: Mapped[str] = mapped_column(String(16), default="gentle")
    ai_language: Mapped[str] = mapped_column(String(16), default="en")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AITask(Base):
    __tablename__ = "ai_tasks"
    __table_args__ = (
        Index("ix_ai_tasks_user_id_created_at", "user_id", "created_at"),
        # One task per user, kind and subject: a second submit answers (or runs again) this one.
        UniqueConstraint("user_id", "type", "subject"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))  # review, tomorrow_plan, reading_summary, stats_summary
    input: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    # queued, running, succeeded, failed, canceled
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # What it is about: the day (review, plan), the range (reading), the period (stats); null
    # for tasks made before migration 0006, which nothing deduplicates against.
    subject: Mapped[str | None] = mapped_column(String(64))
    # Its runs so far (a failed, canceled or fallback task runs again in place): a job of an
    # earlier run finds a newer number and leaves the task alone.
    runs: Mapped[int] = mapped_column(default=1, server_default="1")
    # Bumped by each status change: the id of its server-sent event, for Last-Event-ID.
    seq: Mapped[int] = mapped_column(default=1, server_default="1")
    error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[int | None]
    tokens_in: Mapped[int | None]
    tokens_out: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AIUsage(Base):
    """The AI tasks each user started per UTC day, against KEEL_COACH_AI_DAILY_QUOTA."""

    __tablename__ = "ai_usage"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    tasks: Mapped[int] = mapped_column(default=0)


class StatsSummary(Base):
    """The AI's summary of one week or month, cached so it is written once per period."""

    __tablename__ = "stats_summaries"
    __table_args__ = (UniqueConstraint("user_id", "period", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(8))  # weekly, monthly
    start: Mapped[dt.date] = mapped_column(Date)
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Deletions and exports. Kept after the account is erased, so no foreign key; the user is
    named by id only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UploadedFile(Base):
    """A presigned upload: where it goes, and the limits it was signed with."""

    __tablename__ = "uploaded_files"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PushToken(Base):
    """A device's push token (FCM registration token, or whatever the webhook provider takes).
    A token names one device, so it belongs to whoever registered it last."""

    __tablename__ = "push_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(512), unique=True)
    platform: Mapped[str] = mapped_column(String(16))  # ios, android, web
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderSend(Base):
    """One reminder of one kind on one of the user's days: the unique key that lets exactly one
    job send it, however many jobs and worker processes there are."""

    __tablename__ = "reminder_sends"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "day"),
        Index("ix_reminder_sends_created_at", "created_at"),  # retention
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # review, plan
    day: Mapped[dt.date] = mapped_column(Date)
    # The job that won the day: only it sends (again, when its attempt is retried).
    job_id: Mapped[int]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(RefreshTokenMixin, Base):
    pass


class RevokedToken(RevokedTokenMixin, Base):
    pass


class Session(SessionMixin, Base):
    pass


class PasswordResetCode(PasswordResetCodeMixin, Base):
    pass


class MailOutbox(OutboxMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    pass


class Job(JobMixin, Base):
    pass


class SweepLease(SweepLeaseMixin, Base):
    pass


# Retention prunes by these columns (core/retention.py).
Index("ix_refresh_tokens_expires_at", RefreshToken.expires_at)
Index("ix_sessions_expires_at", Session.expires_at)
Index("ix_ai_usage_day", AIUsage.day)
