"""A store's waiting line, compactly (per day: first and last waiting number and the holes
between), read in one query; services/live.py sends it as the store's `queue_updated`, from
which every socket reads its own position. Also the wait estimate positions are priced with.

The estimate is measured from the store's last WINDOW services (serving_at -> completed_at),
trimmed of outliers, and recomputed only when a service completes, into
`stores.service_seconds_estimate`: reading a wait costs no aggregate. A store that has completed
fewer than MIN_SERVICES uses its `default_service_minutes`, or the global default. The people
ahead are shared among the counters serving at once (the bookings now `serving`, at least one).
"""

import uuid
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from keel.apps.queue.models import Booking, Store, User
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
class Span:
    """One day's waiting numbers at a store: `lo` to `hi` without the `holes` (numbers in
    between that are no longer waiting: served, cancelled, no-show, or erased with their
    customer). People leave mostly from the head, which moves `lo`, so the holes stay few
    however long the line: a line of ten thousand is a handful of integers."""

    day: date
    lo: int
    hi: int
    holes: tuple[int, ...]  # ascending

    @property
    def count(self) -> int:
        return self.hi - self.lo + 1 - len(self.holes)

    def rank(self, number: int) -> int | None:
        """1 for the span's first waiting number; None for a number not waiting in it."""
        if not self.lo <= number <= self.hi:
            return None
        before = bisect_left(self.holes, number)
        if before < len(self.holes) and self.holes[before] == number:
            return None
        return number - self.lo + 1 - before


@dataclass(frozen=True, slots=True)
class Line:
    store_id: uuid.UUID
    store_name: str
    owner_id: uuid.UUID
    owner_switches: dict[str, Any]  # the owner's notification_settings
    minutes_per_person: float
    spans: list[Span]  # the days in order: a day's line is behind the days before it
    # The active (waiting or serving) bookings at the store of the customer `load` was given.
    customer_active: int

    @property
    def count(self) -> int:
        return sum(span.count for span in self.spans)

    def position(self, day: date, number: int) -> int | None:
        return position_in(self.spans, day, number)


def position_in(spans: list[Span], day: date, number: int) -> int | None:
    """A place's position in a line (1 = next); None for a place not waiting in it."""
    ahead = 0
    for span in spans:
        if span.day == day:
            rank = span.rank(number)
            return None if rank is None else ahead + rank
        ahead += span.count
    return None


# Built once: the store, with each day of its line as (first, last, how many) in one round
# trip. The store's row comes back once, with nulls, when nobody waits. The counts read the
# (store_id, status, queue_day, queue_number) index, not the bookings.
_DAYS = (
    select(
        Booking.store_id,
        Booking.queue_day,
        func.min(Booking.queue_number).label("lo"),
        func.max(Booking.queue_number).label("hi"),
        func.count().label("n"),
    )
    .where(Booking.store_id == bindparam("store_id"), Booking.status == BookingStatus.waiting)
    .group_by(Booking.store_id, Booking.queue_day)
    .subquery()
)
_customer_active = (
    select(func.count())
    .select_from(Booking)
    .where(
        Booking.store_id == bindparam("store_id"),
        Booking.user_id == bindparam("customer"),
        Booking.status.in_((BookingStatus.waiting, BookingStatus.serving)),
    )
    .scalar_subquery()
)
_LINE = (
    select(
        Store.name,
        Store.owner_id,
        User.notification_settings.label("owner_switches"),
        _customer_active.label("customer_active"),
        Store.default_service_minutes,
        Store.service_seconds_estimate,
        serving_count(Store.id).label("counters"),
        _DAYS.c.queue_day,
        _DAYS.c.lo,
        _DAYS.c.hi,
        _DAYS.c.n,
    )
    .select_from(Store)
    .join(User, User.id == Store.owner_id)
    .outerjoin(_DAYS, _DAYS.c.store_id == Store.id)
    .where(Store.id == bindparam("store_id"))
    .order_by(_DAYS.c.queue_day)
)


async def load(
    session: AsyncSession, store_id: uuid.UUID, default_minutes: float, customer: uuid.UUID | None = None
) -> Line:
    """`default_minutes`: KEEL_QUEUE_DEFAULT_SERVICE_MINUTES (deps.DefaultServiceMinutes);
    `customer`: whose active bookings at the store to count, in the same round trip."""
    rows: list[Any] = (await session.execute(_LINE, {"store_id": store_id, "customer": customer})).all()
    first = rows[0]
    minutes = minutes_per_person(
        first.service_seconds_estimate, first.default_service_minutes, default_minutes, first.counters
    )
    days = [row for row in rows if row.queue_day is not None]
    holed = [row for row in days if row.n < row.hi - row.lo + 1]
    holes = await _holes(session, store_id, holed) if holed else {}
    return Line(
        store_id=store_id,
        store_name=first.name,
        owner_id=first.owner_id,
        owner_switches=first.owner_switches or {},
        minutes_per_person=minutes,
        spans=[Span(row.queue_day, row.lo, row.hi, holes.get(row.queue_day, ())) for row in days],
        customer_active=first.customer_active,
    )


async def _holes(session: AsyncSession, store_id: uuid.UUID, days: list[Any]) -> dict[date, tuple[int, ...]]:
    """The numbers between each day's first and last waiting one that are not waiting: the
    other bookings in that range (few), or, where bookings were erased with their customer and
    left numbers with no row at all, the complement of the day's waiting numbers."""
    in_range = or_(
        *(
            and_(Booking.queue_day == row.queue_day, Booking.queue_number.between(row.lo, row.hi))
            for row in days
        )
    )
    found = await session.execute(
        select(Booking.queue_day, Booking.queue_number)
        .where(Booking.store_id == store_id, Booking.status != BookingStatus.waiting, in_range)
        .order_by(Booking.queue_day, Booking.queue_number)
    )
    holes: dict[date, list[int]] = {}
    for day, number in found:
        holes.setdefault(day, []).append(number)
    for row in days:
        if row.hi - row.lo + 1 - len(holes.get(row.queue_day, ())) != row.n:
            waiting = set(
                (
                    await session.execute(
                        select(Booking.queue_number).where(
                            Booking.store_id == store_id,
                            Booking.queue_day == row.queue_day,
                            Booking.status == BookingStatus.waiting,
                        )
                    )
                ).scalars()
            )
            holes[row.queue_day] = [n for n in range(row.lo, row.hi + 1) if n not in waiting]
    return {day: tuple(numbers) for day, numbers in holes.items()}


async def heads(session: AsyncSession, store_id: uuid.UUID, count: int) -> list[tuple[uuid.UUID, date, int]]:
    """The first `count` waiting in the store's line: (customer, day, number)."""
    rows = await session.execute(
        select(Booking.user_id, Booking.queue_day, Booking.queue_number)
        .where(Booking.store_id == store_id, Booking.status == BookingStatus.waiting)
        .order_by(Booking.queue_day, Booking.queue_number)
        .limit(count)
    )
    return [(row.user_id, row.queue_day, row.queue_number) for row in rows]
