"""The store's counter (issue 14 item 4): calling the next customer and queueing walk-ins. Both go
through services/bookings.py (the status change and the booking), so each sends the events and
notifications a status change or a booking sends from the app."""

import secrets
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import Booking, User
from keel.apps.queue.schemas import BookingCreate, BookingStatus, WalkInCreate
from keel.apps.queue.services import bookings, staff
from keel.core.db import Database
from keel.core.errors import Conflict
from keel.core.realtime import EventSink
from keel.core.security.passwords import hash_password


async def call_next(
    session: AsyncSession,
    events: EventSink,
    user_id: uuid.UUID,
    store_id: uuid.UUID,
    default_minutes: float,
) -> dict[str, Any]:
    """The first in line (lowest day and number) starts being served. Others may be served
    already: a store with several counters calls once per free counter."""
    await staff.require_operator(session, store_id, user_id)
    # Locked, skipping a row another counter is calling this instant: two calls at once take
    # two customers instead of one failing (SQLite has a single writer and no row locks).
    booking_id = (
        await session.execute(
            select(Booking.id)
            .where(Booking.store_id == store_id, Booking.status == BookingStatus.waiting)
            .order_by(Booking.queue_day, Booking.queue_number)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if booking_id is None:
        raise Conflict("Nobody is waiting at this store")
    updated_at = await bookings.change_status(
        session, events, user_id, booking_id, BookingStatus.serving, default_minutes
    )
    called = (
        await session.execute(
            select(Booking.queue_number, Booking.notes, Booking.walk_in_name, User.id, User.name)
            .join(User, User.id == Booking.user_id)
            .where(Booking.id == booking_id)
        )
    ).one()
    walk_in_name = called.walk_in_name
    return {
        "id": booking_id,
        "store_id": store_id,
        "queue_number": called.queue_number,
        "status": BookingStatus.serving,
        "customer": {
            "id": None if walk_in_name is not None else called.id,
            "name": walk_in_name or called.name,
        },
        "notes": called.notes,
        "updated_at": updated_at,
    }


async def walk_in(
    session: AsyncSession,
    database: Database,
    events: EventSink,
    user_id: uuid.UUID,
    store_id: uuid.UUID,
    data: WalkInCreate,
    default_minutes: float,
) -> dict[str, Any]:
    """A customer without the app takes the next number, under the name the staff took down."""
    # In autocommit: the booking's transaction must begin with taking the number.
    await staff.require_operator(database.autocommit, store_id, user_id)
    walker = await _walk_in_user(database, store_id)
    return await bookings.create_booking(
        session,
        database,
        events,
        walker,
        BookingCreate(store_id=store_id, notes=data.notes),
        default_minutes,
        walk_in_name=data.name,
    )


def _walk_in_email(store_id: uuid.UUID) -> str:
    # The reserved .invalid domain: no one can register it, so no one can sign in as it.
    return f"walk-in+{store_id.hex}@walk-in.invalid"


async def _walk_in_user(database: Database, store_id: uuid.UUID) -> Any:
    """The store's walk-in user, made at its first walk-in: every booking has a user, so the
    line, its events and the lists treat walk-ins like anyone else (their events reach no
    socket). Made in a transaction of its own, committed before the booking's begins."""
    email = _walk_in_email(store_id)
    found = select(User.id, User.name, User.notification_settings).where(User.email == email)
    existing = (await database.autocommit.execute(found)).first()
    if existing is not None:
        return existing
    password = await hash_password(secrets.token_urlsafe(32))
    try:
        async with database.sessionmaker() as own, own.begin():
            own.add(User(email=email, name="現場顧客", hashed_password=password))
    except IntegrityError:  # a walk-in at the same store at the same moment made it first
        pass
    return (await database.autocommit.execute(found)).one()
