"""A store's day (issue 14 item 1): the local date its numbers belong to, whether it takes
bookings now, and the end of the day, when bookings still waiting become no-shows.

A day is the store's calendar date in its IANA time zone. Numbers restart at its local
midnight, and the day ends then too, not at closing time: customers in line at closing are
often still served, and one boundary for both keeps a number's day and that day's end in step.
"""

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from keel.apps.queue.models import Store
from keel.core.db import Executor, utcnow
from keel.core.errors import Conflict, NotFound

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def clock() -> datetime:
    """Now, for everything that decides a store's day: one function, so a test can move it."""
    return utcnow()


def local_day(time_zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(time_zone)).date()


def is_open(opening_hours: dict[str, Any] | None, time_zone: str, now: datetime) -> bool:
    """Whether `now` falls in one of the day's [open, close) ranges; null hours: always open."""
    if opening_hours is None:
        return True
    local = now.astimezone(ZoneInfo(time_zone))
    # Zero-padded "HH:MM" strings compare as the times they spell ("24:00" after all of them).
    at = local.strftime("%H:%M")
    return any(start <= at < end for start, end in opening_hours.get(_WEEKDAYS[local.weekday()], ()))


async def booking_day(db: Executor, store_id: Any, now: datetime, *, by_staff: bool) -> date:
    """The store's day for a booking taken now: 404 for no such store; 409 when it is closed
    (`is_active` false), or while it has paused bookings or is outside its opening hours, unless
    its staff take the booking at the counter (a walk-in), who decide for themselves whom they
    still serve."""
    row = (
        await db.execute(
            select(Store.time_zone, Store.opening_hours, Store.accepting_bookings, Store.is_active).where(
                Store.id == store_id
            )
        )
    ).first()
    if row is None:
        raise NotFound("Store not found")
    if not row.is_active:
        raise Conflict("This store's queue is closed")
    if not by_staff:
        if not row.accepting_bookings:
            raise Conflict("This store has paused taking bookings")
        if not is_open(row.opening_hours, row.time_zone, now):
            raise Conflict("This store is closed at this hour (see its opening_hours)")
    return local_day(row.time_zone, now)


async def today_at(db: Executor, store_id: Any, now: datetime) -> date:
    time_zone = (await db.execute(select(Store.time_zone).where(Store.id == store_id))).scalar_one()
    return local_day(time_zone, now)
