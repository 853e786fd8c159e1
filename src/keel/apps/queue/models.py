"""The queue tables (spec 002: users, stores, bookings, messages, notifications), the per-store
daily counter that hands out queue numbers, and the tables the core's features need."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, Uuid, func, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keel.core.db import JSONColumn, utcnow
from keel.core.idempotency_models import IdempotencyKeyMixin
from keel.core.models import TableBase
from keel.core.realtime import EventChannelMixin, EventMixin
from keel.core.security.models import RefreshTokenMixin, RevokedTokenMixin
from keel.core.sweeps import SweepLeaseMixin


class Base(TableBase, DeclarativeBase):
    """Every queue table."""


def _default_notification_settings() -> dict[str, bool]:
    return {"email_notifications": True, "push_notifications": True, "sms_notifications": False}


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    address: Mapped[str | None] = mapped_column(Text)
    notification_settings: Mapped[dict[str, Any]] = mapped_column(
        JSONColumn, default=_default_notification_settings
    )
    # Only `keel seed` makes an admin; the spec has no admin features, the contract test signs in as one.
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    address: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    is_active: Mapped[bool] = mapped_column(default=True)
    # The store's day (services/days.py): its numbers restart at midnight in this IANA zone;
    # bookings are taken only within `opening_hours` (null: always) and while
    # `accepting_bookings`; at the day's end, waiting bookings become no_show unless
    # `end_of_day_no_show` (null: the deployment's setting) says they stay.
    time_zone: Mapped[str] = mapped_column(String(64), server_default="Asia/Taipei")
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    accepting_bookings: Mapped[bool] = mapped_column(default=True, server_default=true())
    end_of_day_no_show: Mapped[bool | None]
    # Minutes per service until the store has completed enough to measure (services/line.py);
    # null: KEEL_QUEUE_DEFAULT_SERVICE_MINUTES.
    default_service_minutes: Mapped[float | None]
    # The measured service time (a trimmed mean of the recent services), recomputed when a
    # service completes so that reading a wait costs no aggregate; null until enough services.
    service_seconds_estimate: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class QueueCounter(Base):
    """The last number given out at a store on a day (the store's local date). Taking a number updates this row,
    whose lock makes concurrent bookings at one store wait for each other, briefly."""

    __tablename__ = "queue_counters"

    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        # The counter makes numbers unique; the constraint would catch a bug, never a race.
        UniqueConstraint("store_id", "queue_day", "queue_number"),
        Index("ix_bookings_store_id_status_queue_day", "store_id", "status", "queue_day", "queue_number"),
        Index("ix_bookings_user_id_created_at", "user_id", "created_at"),
        # The recent services a store's wait estimate is measured from.
        Index("ix_bookings_store_id_completed_at", "store_id", "completed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    # A walk-in's booking belongs to its store's walk-in user (services/staff.py) and carries
    # the name the staff took down.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    walk_in_name: Mapped[str | None] = mapped_column(String(100))
    queue_day: Mapped[date]
    queue_number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))  # waiting, serving, completed, cancelled, no_show
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    serving_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StoreStaff(Base):
    """Users the owner lets run the store's line (call next, no-show, recall, walk-ins)."""

    __tablename__ = "store_staff"

    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_booking_id_created_at", "booking_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text)
    is_read: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # booking_created, booking_cancelled, queue_updated, message_received
    type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    is_read: Mapped[bool] = mapped_column(default=False)
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(EventMixin, Base):
    pass


class EventChannel(EventChannelMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    pass


class RefreshToken(RefreshTokenMixin, Base):
    pass


class RevokedToken(RevokedTokenMixin, Base):
    pass


class SweepLease(SweepLeaseMixin, Base):
    pass


# Retention prunes by these columns (core/retention.py).
Index("ix_refresh_tokens_expires_at", RefreshToken.expires_at)
