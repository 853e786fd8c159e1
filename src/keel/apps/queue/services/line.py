"""A store's waiting line: everyone's position in one query (services/live.py turns it into
the store's `queue_updated`)."""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import Booking, Store
from keel.apps.queue.schemas import BookingStatus
from keel.apps.queue.services.stores import average_service_minutes


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
    average_minutes: float
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
        Store.served_count,
        Store.service_seconds_total,
        Booking.id,
        Booking.user_id,
        Booking.queue_day,
        Booking.queue_number,
    )
    .select_from(Store)
    .outerjoin(Booking, and_(Booking.store_id == Store.id, Booking.status == BookingStatus.waiting))
    .order_by(Booking.queue_day, Booking.queue_number)
)


async def load(session: AsyncSession, store_id: uuid.UUID) -> Line:
    rows: list[Any] = (await session.execute(_LINE.where(Store.id == store_id))).all()
    first = rows[0]
    return Line(
        store_id=store_id,
        store_name=first.name,
        owner_id=first.owner_id,
        average_minutes=average_service_minutes(first.served_count, first.service_seconds_total),
        waiting=[Waiting(r.id, r.user_id, r.queue_day, r.queue_number) for r in rows if r.id is not None],
    )
