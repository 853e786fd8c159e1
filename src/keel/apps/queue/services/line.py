"""A store's waiting line: everyone's position in one query (services/live.py turns it into
the store's `queue_updated`), and the wait estimate those positions are priced with.

The estimate is measured from the store's last WINDOW services (serving_at -> completed_at),
trimmed of outliers, and recomputed only when a service completes, into
`stores.service_seconds_estimate`: reading a wait costs no aggregate. A store that has completed
fewer than MIN_SERVICES uses its `default_service_minutes`, or the global default. The people
ahead are shared among the counters serving at once (the bookings now `serving`, at least one).
"""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from keel.apps.queue.models import Booking, Store
from keel.apps.queue.schemas import BookingStatus

# The services a store's estimate is measured from: enough that one odd service moves it
# little, few enough that it follows a store whose pace changes within a day.
WINDOW = 20
MIN_SERVICES = 5


def trimmed_mean(seconds: list[float]) -> float:
    """The mean without the fastest and slowest tenth (at least one of each): a 4-second
    service or a 2-hour one left open over lunch does not move it."""
    ordered = sorted(seconds)
    cut = max(1, len(ordered) // 10)
    kept = ordered[cut:-cut]
    return sum(kept) / len(kept)


def minutes_per_person(
    estimate_seconds: float | None, store_default: float | None, global_default: float, counters: int
) -> float:
    minutes = estimate_seconds / 60 if estimate_seconds is not None else (store_default or global_default)
    return minutes / max(1, counters)


def estimated_wait(people_ahead: int, minutes: float) -> int:
    return round(people_ahead * minutes)


async def remeasure(session: AsyncSession, store_id: uuid.UUID) -> None:
    """After a service completed: the store's estimate from its last WINDOW services (null,
    the default applies, while it has fewer than MIN_SERVICES). Reads WINDOW rows by
    ix_bookings_store_id_completed_at."""
    rows = (
        await session.execute(
            select(Booking.serving_at, Booking.completed_at)
            .where(
                Booking.store_id == store_id,
                Booking.completed_at.is_not(None),
                Booking.serving_at.is_not(None),
            )
            .order_by(Booking.completed_at.desc())
            .limit(WINDOW)
        )
    ).all()
    seconds = [max(0.0, (row.completed_at - row.serving_at).total_seconds()) for row in rows]
    estimate = trimmed_mean(seconds) if len(seconds) >= MIN_SERVICES else None
    await session.execute(update(Store).where(Store.id == store_id).values(service_seconds_estimate=estimate))


def serving_count(store_id: ColumnElement[Any]) -> Any:
    """The store's counters at work now: its bookings being served (a scalar subquery, on an
    alias of bookings so it never correlates with the bookings of the query it sits in)."""
    served = aliased(Booking)
    return (
        select(func.count())
        .where(served.store_id == store_id, served.status == BookingStatus.serving)
        .correlate_except(served)
        .scalar_subquery()
    )


def waiting_position() -> Any:
    """A booking's place in its store's line (1 = next), for a select of bookings: the waiting
    bookings at its store up to and including it. Null unless it is waiting."""
    ahead = aliased(Booking)
    rank = (
        select(func.count())
        .where(
            ahead.store_id == Booking.store_id,
            ahead.status == BookingStatus.waiting,
            or_(
                ahead.queue_day < Booking.queue_day,
                and_(ahead.queue_day == Booking.queue_day, ahead.queue_number <= Booking.queue_number),
            ),
        )
        .correlate(Booking)
        .scalar_subquery()
    )
    return case((Booking.status == BookingStatus.waiting, rank), else_=None)


@dataclass(frozen=True, slots=True)
class Waiting:
    booking_id: uuid.UUID
    user_id: uuid.UUID
    queue_day: date
    queue_number: int

    @property
    def place(self) -> tuple[date, int]:
        return self.queue_day, self.queue_number


@dataclass(frozen=True, slots=True)
class Line:
    store_id: uuid.UUID
    store_name: str
    owner_id: uuid.UUID
    minutes_per_person: float
    waiting: list[Waiting]  # first in line first

    def position(self, booking_id: uuid.UUID) -> int:
        for position, entry in enumerate(self.waiting, 1):
            if entry.booking_id == booking_id:
                return position
        raise LookupError(booking_id)

    def behind(self, place: tuple[date, int]) -> list[tuple[int, Waiting]]:
        """The waiting customers (and their positions now) who were behind a place that left
        the line: each of them moved up one."""
        return [(n, entry) for n, entry in enumerate(self.waiting, 1) if entry.place > place]


# Built once: the store and its waiting bookings in one round trip (the store's row comes back
# once, with nulls, when nobody waits).
_LINE = (
    select(
        Store.name,
        Store.owner_id,
        Store.default_service_minutes,
        Store.service_seconds_estimate,
        serving_count(Store.id).label("counters"),
        Booking.id,
        Booking.user_id,
        Booking.queue_day,
        Booking.queue_number,
    )
    .select_from(Store)
    .outerjoin(Booking, and_(Booking.store_id == Store.id, Booking.status == BookingStatus.waiting))
    .order_by(Booking.queue_day, Booking.queue_number)
)


async def load(session: AsyncSession, store_id: uuid.UUID, default_minutes: float) -> Line:
    """`default_minutes`: KEEL_QUEUE_DEFAULT_SERVICE_MINUTES (deps.DefaultServiceMinutes)."""
    rows: list[Any] = (await session.execute(_LINE.where(Store.id == store_id))).all()
    first = rows[0]
    minutes = minutes_per_person(
        first.service_seconds_estimate, first.default_service_minutes, default_minutes, first.counters
    )
    return Line(
        store_id=store_id,
        store_name=first.name,
        owner_id=first.owner_id,
        minutes_per_person=minutes,
        waiting=[Waiting(r.id, r.user_id, r.queue_day, r.queue_number) for r in rows if r.id is not None],
    )
