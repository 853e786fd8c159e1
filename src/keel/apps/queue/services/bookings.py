"""Bookings: taking a number, the owner moving a booking along, the booker cancelling, and the
two lists. Every change that moves a line tells the line (`queue_updated`), in its transaction."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import Booking, IdempotencyKey, Store, User
from keel.apps.queue.schemas import BookingCreate, BookingStatus
from keel.apps.queue.services import days, live, notifications, staff
from keel.apps.queue.services import line as lines
from keel.apps.queue.services.numbering import take_number
from keel.core.db import Database, Executor, utcnow
from keel.core.errors import Conflict, Forbidden, NotFound
from keel.core.idempotency import Idempotency
from keel.core.pagination import PageRequest, fetch_page
from keel.core.realtime import EventSink, Outgoing

# A booking is one short transaction: a claim whose request has not answered within a minute
# belongs to a process that died. Were the first still running, the takeover would meet the
# one-active-booking rule (409), not book twice.
idempotency = Idempotency(IdempotencyKey, lease=timedelta(minutes=1))

ACTIVE = (BookingStatus.waiting, BookingStatus.serving)
# The moves the owner or staff may make; anything else is a 409 that names the move. no_show
# -> waiting is a recall: the booking keeps its number, so it is back where it stood.
OWNER_MOVES = {
    BookingStatus.waiting: {BookingStatus.serving, BookingStatus.cancelled, BookingStatus.no_show},
    BookingStatus.serving: {BookingStatus.completed, BookingStatus.cancelled, BookingStatus.no_show},
    BookingStatus.no_show: {BookingStatus.waiting},
}
# A customer is told they moved up once they are this close to the head (the spec's example:
# 已前進到第3位), not at every step of a long line: a notification row each, and a push, for
# every customer behind on every move would cost the store O(line) rows per call and the
# customer a buzz a minute for an hour.
PROGRESS_POSITIONS = 3
STATUS_LABELS = {
    BookingStatus.waiting: "等待中",
    BookingStatus.serving: "服務中",
    BookingStatus.completed: "已完成",
    BookingStatus.cancelled: "已取消",
    BookingStatus.no_show: "過號",
}
STATUS_TITLES = {BookingStatus.serving: "輪到您了", BookingStatus.completed: "服務完成"}
STATUS_MESSAGES = {
    BookingStatus.serving: "您的服務即將開始,請準備前往現場!",
    BookingStatus.completed: "服務已完成,謝謝您的光臨!",
    BookingStatus.cancelled: "您的預約已取消",
    BookingStatus.no_show: "您已過號,如需服務請聯絡店家",
    BookingStatus.waiting: "您已重新排入隊伍,請留意叫號",
}


async def create_booking(
    session: AsyncSession,
    database: Database,
    events: EventSink,
    user: Any,
    data: BookingCreate,
    default_minutes: float,
    *,
    walk_in_name: str | None = None,
) -> dict[str, Any]:
    """A walk-in (`walk_in_name`, by the store's staff for its walk-in user) is not refused
    by the pause or the opening hours, and a store may have any number of them in line."""
    now = days.clock()
    # Outside the transaction (autocommit), so taking the number stays its first statement.
    day = await days.booking_day(database.autocommit, data.store_id, now, by_staff=walk_in_name is not None)
    # First in the transaction: the counter's lock orders concurrent bookings at this store, so
    # the line read after the insert sees every booking committed before this one.
    number = await take_number(session, database, data.store_id, day)
    booking = Booking(
        store_id=data.store_id,
        user_id=user.id,
        walk_in_name=walk_in_name,
        queue_day=day,
        queue_number=number,
        status=BookingStatus.waiting,
        notes=data.notes,
        created_at=now,
        updated_at=now,
    )
    session.add(booking)
    await session.flush()
    line = await lines.load(session, data.store_id, default_minutes, customer=user.id)
    # Counted with this booking: another active one rolls this one back.
    if line.customer_active > 1 and walk_in_name is None:
        raise Conflict("You are already in this store's queue")
    position = line.position(day, number)
    assert position is not None  # it was inserted waiting, in this transaction
    wait = lines.estimated_wait(position - 1, line.minutes_per_person)
    await notifications.add(
        session,
        [
            (user.id, "booking_created", "預約成功", f"您在{line.store_name}的號碼是第{number}號"),
            (
                line.owner_id,
                "booking_created",
                "新預約",
                f"{walk_in_name or user.name}預約了{line.store_name},第{number}號",
            ),
        ],
        switches={user.id: user.notification_settings, line.owner_id: line.owner_switches},
    )
    await events.emit(session, [live.queue_updated(line, now, joined=booking)])
    return {
        "id": booking.id,
        "queue_number": number,
        "your_position": position,
        "estimated_wait_time": wait,
        "message": f"預約成功!您是第{number}號,預估等待時間{wait}分鐘",
    }


async def _booking_with_owner(session: AsyncSession, booking_id: uuid.UUID) -> tuple[Booking, uuid.UUID]:
    row = (
        await session.execute(
            select(Booking, Store.owner_id)
            .join(Store, Store.id == Booking.store_id)
            .where(Booking.id == booking_id)
        )
    ).first()
    if row is None:
        raise NotFound("Booking not found")
    return row[0], row[1]


async def change_status(
    session: AsyncSession,
    events: EventSink,
    owner_id: uuid.UUID,
    booking_id: uuid.UUID,
    new: BookingStatus,
    default_minutes: float,
) -> datetime:
    """The moves of the owner and the store's staff: waiting -> serving -> completed, waiting or
    serving -> cancelled or no_show, and no_show -> waiting (a recall)."""
    booking, store_owner = await _booking_with_owner(session, booking_id)
    if not await staff.may_operate(session, booking.store_id, store_owner, owner_id):
        raise Forbidden("Only the store's owner or its staff can change a booking's status")
    if new not in OWNER_MOVES.get(booking.status, set()):
        allowed = sorted(OWNER_MOVES.get(booking.status, ()))
        raise Conflict(
            f"A {booking.status} booking cannot become {new.value}"
            + (f"; it can become {' or '.join(allowed)}" if allowed else "; it is final")
        )
    if new == BookingStatus.waiting:
        await _check_recall(session, booking)
    return await _move(session, events, booking, new, default_minutes, by_owner=True)


async def _check_recall(session: AsyncSession, booking: Booking) -> None:
    """Only into today's line (yesterday's number means nothing now), and not for a customer who
    has since taken another number there."""
    if booking.queue_day != await days.today_at(session, booking.store_id, days.clock()):
        raise Conflict("Only a booking from the store's current day can be recalled")
    if booking.walk_in_name is not None:
        return
    again = await session.execute(
        select(Booking.id).where(
            Booking.store_id == booking.store_id,
            Booking.user_id == booking.user_id,
            Booking.status.in_(ACTIVE),
        )
    )
    if again.first() is not None:
        raise Conflict("This customer is in the store's queue again with another booking")


async def cancel_booking(
    session: AsyncSession,
    events: EventSink,
    user_id: uuid.UUID,
    booking_id: uuid.UUID,
    default_minutes: float,
) -> datetime:
    """The booker leaves the line; the people behind move up."""
    booking, _owner = await _booking_with_owner(session, booking_id)
    if booking.user_id != user_id:
        raise Forbidden("Only the person who booked can cancel this booking")
    if booking.status not in ACTIVE:
        raise Conflict(f"A {booking.status} booking cannot be cancelled")
    return await _move(session, events, booking, BookingStatus.cancelled, default_minutes, by_owner=False)


async def _move(
    session: AsyncSession,
    events: EventSink,
    booking: Booking,
    new: BookingStatus,
    default_minutes: float,
    *,
    by_owner: bool,
) -> datetime:
    now = utcnow()
    old = booking.status
    stamped = {
        BookingStatus.serving: {"serving_at": now},
        BookingStatus.completed: {"completed_at": now},
        BookingStatus.cancelled: {"cancelled_at": now},
    }.get(new, {})
    # Conditional, so of two concurrent moves of one booking exactly one happens.
    moved = await session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == old)
        .values(status=new, updated_at=now, **stamped)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict("The booking was changed at the same time; reload it and try again")
    if new == BookingStatus.completed:
        await lines.remeasure(session, booking.store_id)
    line = await lines.load(session, booking.store_id, default_minutes)
    left = [booking.user_id] if old == BookingStatus.waiting else []
    outgoing = [
        *status_changed(booking, line.owner_id, old, new, now),
        live.queue_updated(line, now, left=left),
    ]
    # Those now at the head who stood behind the booking that left moved up: (position, who).
    moved_up: list[tuple[int, uuid.UUID]] = []
    if old == BookingStatus.waiting:
        heads = await lines.heads(session, booking.store_id, PROGRESS_POSITIONS)
        place = (booking.queue_day, booking.queue_number)
        moved_up = [(n, user_id) for n, (user_id, *head) in enumerate(heads, 1) if tuple(head) > place]
    await notifications.add(session, _notifications(line, booking, old, new, moved_up, by_owner=by_owner))
    await events.emit(session, outgoing)
    return now


def status_changed(
    booking: Any, owner_id: uuid.UUID, old: str, new: BookingStatus, now: datetime
) -> list[Outgoing]:
    """The customer and the store both hear of a move (the spec's 相關的使用者和商家)."""
    changed = {
        "booking_id": str(booking.id),
        "old_status": old,
        "new_status": new,
        "message": STATUS_MESSAGES[new],
        "updated_at": now.isoformat(),
    }
    return [
        (live.user_channel(booking.user_id), "booking_status_changed", changed),
        (live.user_channel(owner_id), "booking_status_changed", changed),
    ]


def _notifications(
    line: lines.Line,
    booking: Booking,
    old: str,
    new: BookingStatus,
    moved_up: list[tuple[int, uuid.UUID]],
    *,
    by_owner: bool,
) -> list[notifications.NewNotification]:
    rows: list[notifications.NewNotification] = []
    if new in (BookingStatus.serving, BookingStatus.completed):
        rows.append(
            (
                booking.user_id,
                "booking_status_changed",
                STATUS_TITLES[new],
                f"{line.store_name}第{booking.queue_number}號:{STATUS_MESSAGES[new]}",
            )
        )
    if new == BookingStatus.cancelled:
        if by_owner:
            rows.append(
                (
                    booking.user_id,
                    "booking_cancelled",
                    "預約已取消",
                    f"{line.store_name}取消了您第{booking.queue_number}號的預約",
                )
            )
        else:
            rows.append(
                (line.owner_id, "booking_cancelled", "顧客取消預約", f"第{booking.queue_number}號取消了預約")
            )
    rows.extend(
        (user_id, "queue_updated", "排隊進度更新", f"您在{line.store_name}的排隊號碼已前進到第{n}位!")
        for n, user_id in moved_up
    )
    return rows


# A booking as its customer or the store's owner reads it, with its place in the line: the
# position and the store's pace are columns of the same select, so a page of them is one query.
_PLACE_FIELDS = (
    Booking.id,
    Booking.user_id,
    Booking.queue_number,
    Booking.status,
    Booking.notes,
    Booking.created_at,
    Booking.serving_at,
    Booking.completed_at,
    Booking.cancelled_at,
    Booking.updated_at,
    Store.id.label("store_id"),
    Store.owner_id.label("store_owner_id"),
    Store.name.label("store_name"),
    Store.avatar_url.label("store_avatar_url"),
    Store.address.label("store_address"),
    Store.contact_email.label("store_contact_email"),
    Store.default_service_minutes,
    Store.service_seconds_estimate,
    lines.serving_count(Store.id).label("counters"),
    lines.waiting_position().label("your_position"),
)
_PLACES = select(*_PLACE_FIELDS).join(Store, Store.id == Booking.store_id)


def _place(row: Any, default_minutes: float) -> dict[str, Any]:
    position = row.your_position
    wait = None
    if position is not None:
        minutes = lines.minutes_per_person(
            row.service_seconds_estimate, row.default_service_minutes, default_minutes, row.counters
        )
        wait = lines.estimated_wait(position - 1, minutes)
    return {
        "id": row.id,
        "store": {
            "id": row.store_id,
            "name": row.store_name,
            "avatar_url": row.store_avatar_url,
            "address": row.store_address,
            "contact_email": row.store_contact_email,
        },
        "queue_number": row.queue_number,
        "status": row.status,
        "your_position": position,
        "estimated_wait_time": wait,
        "notes": row.notes,
        "created_at": row.created_at,
        "serving_at": row.serving_at,
        "completed_at": row.completed_at,
        "cancelled_at": row.cancelled_at,
        "updated_at": row.updated_at,
    }


async def get_booking(
    db: Executor, user_id: uuid.UUID, booking_id: uuid.UUID, default_minutes: float
) -> dict[str, Any]:
    """For its customer and the store's owner; anyone else is told it does not exist."""
    row = (await db.execute(_PLACES.where(Booking.id == booking_id))).first()
    if row is None or user_id not in (row.user_id, row.store_owner_id):
        raise NotFound("Booking not found")
    return _place(row, default_minutes)


async def my_bookings(
    db: Executor, user_id: uuid.UUID, page: PageRequest, status: BookingStatus | None, default_minutes: float
) -> dict[str, Any]:
    conditions = [Booking.user_id == user_id]
    if status is not None:
        conditions.append(Booking.status == status.value)
    # Counted without the place's subqueries, which the count does not need.
    total = (await db.execute(select(func.count()).select_from(Booking).where(*conditions))).scalar_one()
    rows, total = await fetch_page(
        db, _PLACES.where(*conditions).order_by(Booking.created_at.desc(), Booking.id), page, total=total
    )
    bookings = [_place(row, default_minutes) for row in rows]
    return {"bookings": bookings, "total": total, "current_page": page.page}


_RECEIVED_FIELDS = (
    Booking.id,
    Booking.store_id,
    Booking.queue_number,
    Booking.status,
    Booking.notes,
    Booking.created_at,
    User.id.label("user_id"),
    func.coalesce(Booking.walk_in_name, User.name).label("name"),
    User.avatar_url,
    User.email,
)


async def received_bookings(
    db: Executor,
    owner_id: uuid.UUID,
    page: PageRequest,
    store_id: uuid.UUID | None,
    status: BookingStatus | None,
) -> dict[str, Any]:
    """The bookings at one of the owner's stores, or at all of them; in line order."""
    if store_id is not None:
        owner = (await db.execute(select(Store.owner_id).where(Store.id == store_id))).scalar_one_or_none()
        if owner is None:
            raise NotFound("Store not found")
        if not await staff.may_operate(db, store_id, owner, owner_id):
            raise Forbidden("Only the store's owner or its staff can see its bookings")
        stores = [store_id]
    else:
        stores = list((await db.execute(select(Store.id).where(Store.owner_id == owner_id))).scalars())
        if not stores:
            raise Forbidden("You own no store")
    conditions = [Booking.store_id.in_(stores)]
    if status is not None:
        conditions.append(Booking.status == status.value)
    rows, total = await fetch_page(
        db,
        select(*_RECEIVED_FIELDS)
        .join(User, User.id == Booking.user_id)
        .where(*conditions)
        .order_by(Booking.queue_day.desc(), Booking.queue_number, Booking.id),
        page,
    )
    bookings = [
        {
            "id": row.id,
            "store_id": row.store_id,
            "user": {"id": row.user_id, "name": row.name, "avatar_url": row.avatar_url, "email": row.email},
            "queue_number": row.queue_number,
            "status": row.status,
            "notes": row.notes,
            "created_at": row.created_at,
        }
        for row in rows
    ]
    return {"bookings": bookings, "total": total, "current_page": page.page}
