"""The counter's board (issue 15, the console's queue section): the stores a user runs, and one
store's line as the people at the counter see it: who is being served, who waits (by name, with
their place and wait) and today's no-shows, who may be recalled."""

import uuid
from typing import Any

from sqlalchemy import func, select

from keel.apps.queue.models import Booking, Store, User
from keel.apps.queue.schemas import BookingStatus
from keel.apps.queue.services import days, staff
from keel.apps.queue.services import line as lines
from keel.core.db import Executor

# How many no-shows of the day the board lists for a recall, latest first.
NO_SHOWS = 20


async def my_stores(db: Executor, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every store the user runs, active or not, oldest first, with its waiting count."""
    waiting = (
        select(func.count())
        .where(Booking.store_id == Store.id, Booking.status == BookingStatus.waiting)
        .correlate(Store)
        .scalar_subquery()
    )
    rows = await db.execute(
        select(
            Store.id,
            Store.name,
            Store.address,
            Store.avatar_url,
            Store.owner_id,
            Store.is_active,
            Store.accepting_bookings,
            Store.time_zone,
            waiting.label("current_queue_count"),
        )
        .where(staff.runs(user_id))
        .order_by(Store.created_at, Store.id)
    )
    return [{**row._mapping, "role": "owner" if row.owner_id == user_id else "staff"} for row in rows]


_ENTRY = (
    Booking.id,
    Booking.queue_day,
    Booking.queue_number,
    Booking.status,
    Booking.notes,
    Booking.walk_in_name,
    Booking.created_at,
    Booking.serving_at,
    Booking.updated_at,
    User.id.label("user_id"),
    User.name.label("user_name"),
    User.email.label("user_email"),
)


def _entry(row: Any) -> dict[str, Any]:
    walk_in = row.walk_in_name is not None
    return {
        "id": row.id,
        "queue_day": row.queue_day,
        "queue_number": row.queue_number,
        "status": row.status,
        "customer": {
            "id": None if walk_in else row.user_id,
            "name": row.walk_in_name if walk_in else row.user_name,
            "email": None if walk_in else row.user_email,
        },
        "walk_in": walk_in,
        "notes": row.notes,
        "created_at": row.created_at,
        "serving_at": row.serving_at,
        "updated_at": row.updated_at,
    }


async def board(
    db: Executor, user_id: uuid.UUID, store_id: uuid.UUID, default_minutes: float, limit: int
) -> dict[str, Any]:
    """The store's line for its owner and staff (404 no such store, 403 anyone else): the
    bookings being served (longest first), the first `limit` waiting in line order with their
    place and wait, how many wait in all, and the day's no-shows."""
    await staff.require_operator(db, store_id, user_id)
    store = (
        await db.execute(
            select(
                Store.id,
                Store.name,
                Store.owner_id,
                Store.is_active,
                Store.accepting_bookings,
                Store.time_zone,
                Store.default_service_minutes,
                Store.service_seconds_estimate,
            ).where(Store.id == store_id)
        )
    ).one()
    entries = select(*_ENTRY).join(User, User.id == Booking.user_id).where(Booking.store_id == store_id)
    serving = (
        await db.execute(
            entries.where(Booking.status == BookingStatus.serving).order_by(
                Booking.serving_at, Booking.queue_day, Booking.queue_number
            )
        )
    ).all()
    waiting = (
        await db.execute(
            entries.where(Booking.status == BookingStatus.waiting)
            .order_by(Booking.queue_day, Booking.queue_number)
            .limit(limit)
        )
    ).all()
    total = (
        await db.execute(
            select(func.count()).where(Booking.store_id == store_id, Booking.status == BookingStatus.waiting)
        )
    ).scalar_one()
    today = days.local_day(store.time_zone, days.clock())
    no_shows = (
        await db.execute(
            entries.where(Booking.status == BookingStatus.no_show, Booking.queue_day == today)
            .order_by(Booking.updated_at.desc(), Booking.queue_number.desc())
            .limit(NO_SHOWS)
        )
    ).all()
    minutes = lines.minutes_per_person(
        store.service_seconds_estimate, store.default_service_minutes, default_minutes, len(serving)
    )
    line = []
    for ahead, row in enumerate(waiting):
        line.append(
            _entry(row) | {"position": ahead + 1, "estimated_wait_time": lines.estimated_wait(ahead, minutes)}
        )
    return {
        "store": {
            "id": store.id,
            "name": store.name,
            "role": "owner" if store.owner_id == user_id else "staff",
            "is_active": store.is_active,
            "accepting_bookings": store.accepting_bookings,
            "today": today,
            "minutes_per_person": round(minutes, 2),
        },
        "serving": [_entry(row) for row in serving],
        "waiting": line,
        "waiting_total": total,
        "no_shows": [_entry(row) for row in no_shows],
    }
