"""The end of a store's day (issue 14 item 1): bookings still waiting from a day that has ended
at their store become `no_show`, at each store whose rule says so (its `end_of_day_no_show`,
else the deployment's), and everyone hears it as they would an owner's move: the customer and
the owner `booking_status_changed`, the line its `queue_updated`.

One transaction per store: its ended-day waiting bookings are locked (FOR UPDATE, so an owner's
move of one of them waits and then finds it moved: 409), moved, and the events stored with
them. What a run moved is no longer waiting, so a second run, or one overlapping it, moves
nothing: each store's day closes once."""

import uuid
from datetime import date, datetime

from sqlalchemy import or_, select, update

from keel.apps.queue.models import Booking, Store
from keel.apps.queue.schemas import BookingStatus
from keel.apps.queue.services import days, live
from keel.apps.queue.services import line as lines
from keel.apps.queue.services.bookings import status_changed
from keel.core.db import Database
from keel.core.realtime import Event, Realtime
from keel.settings import Settings


async def close_ended_days(database: Database, realtime: Realtime, settings: Settings, now: datetime) -> int:
    """How many bookings became no_show."""
    rule = Store.end_of_day_no_show.is_(True)
    if settings.queue_end_of_day_no_show:
        rule = or_(rule, Store.end_of_day_no_show.is_(None))
    zones = (await database.autocommit.execute(select(Store.time_zone).distinct())).scalars().all()
    moved = 0
    for zone in zones:
        today = days.local_day(zone, now)
        stores = (
            await database.autocommit.execute(
                select(Booking.store_id)
                .distinct()
                .join(Store, Store.id == Booking.store_id)
                .where(
                    Store.time_zone == zone,
                    rule,
                    Booking.status == BookingStatus.waiting,
                    Booking.queue_day < today,
                )
            )
        ).scalars()
        for store_id in list(stores):
            count, events = await _close(database, realtime, settings, store_id, today, now)
            await realtime.publish_committed(settings, events)
            moved += count
    return moved


async def _close(
    database: Database,
    realtime: Realtime,
    settings: Settings,
    store_id: uuid.UUID,
    today: date,
    now: datetime,
) -> tuple[int, list[Event]]:
    async with database.sessionmaker() as session, session.begin():
        ended = (
            await session.execute(
                select(Booking.id, Booking.user_id)
                .where(
                    Booking.store_id == store_id,
                    Booking.status == BookingStatus.waiting,
                    Booking.queue_day < today,
                )
                .with_for_update()
            )
        ).all()
        if not ended:
            return 0, []
        await session.execute(
            update(Booking)
            .where(Booking.id.in_([booking.id for booking in ended]))
            .values(status=BookingStatus.no_show, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        line = await lines.load(session, store_id, settings.queue_default_service_minutes)
        outgoing = [
            *(
                event
                for booking in ended
                for event in status_changed(
                    booking, line.owner_id, BookingStatus.waiting, BookingStatus.no_show, now
                )
            ),
            live.queue_updated(line, now, left=[booking.user_id for booking in ended]),
        ]
        return len(ended), await realtime.store(session, outgoing)
