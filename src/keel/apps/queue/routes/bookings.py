import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from keel.apps.queue.deps import CurrentUser, DefaultServiceMinutes, Events
from keel.apps.queue.schemas import (
    BookingCancelled,
    BookingCreate,
    BookingCreated,
    BookingOut,
    BookingStatus,
    MyBookings,
    ReceivedBookings,
    StatusUpdate,
    StatusUpdated,
)
from keel.apps.queue.services import bookings
from keel.apps.queue.services.bookings import idempotency
from keel.core.db import AppDatabase, DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, error_responses
from keel.core.idempotency import IdempotencyKeyHeader
from keel.core.pagination import PageParams, PageRequest, page_params

router = APIRouter(prefix="/bookings", tags=["bookings"], route_class=TransactionalRoute)


@router.post(
    "",
    status_code=201,
    response_model=BookingCreated,
    responses=error_responses(Unauthorized, NotFound, Conflict),
)
async def create_booking(
    request: Request,
    data: BookingCreate,
    user: CurrentUser,
    session: DbSession,
    database: AppDatabase,
    events: Events,
    default_minutes: DefaultServiceMinutes,
    key: IdempotencyKeyHeader,
) -> dict[str, Any]:
    """Take the next number at a store (from 1 each day, from the store's local midnight). The
    wait is the people ahead times the store's recent service time, shared among the counters
    serving now (its default until it has completed enough). 404 for an unknown store; 409 when its queue is closed or you
    already wait or are being served there. With an `Idempotency-Key`, a retry answers the
    same booking (201, the same body) instead of a 409."""
    if key is not None:
        await idempotency.guard(request, f"user:{user.id}:bookings.create", key)
    return await bookings.create_booking(session, database, events, user, data, default_minutes)


@router.get("/my-bookings", response_model=MyBookings, responses=error_responses(Unauthorized))
async def my_bookings(
    user: CurrentUser,
    db: ReadDb,
    page: Annotated[PageRequest, Depends(page_params(10))],
    default_minutes: DefaultServiceMinutes,
    status: BookingStatus | None = None,
) -> dict[str, Any]:
    """Newest first, each with `your_position` and `estimated_wait_time` while it waits."""
    return await bookings.my_bookings(db, user.id, page, status, default_minutes)


@router.get(
    "/received-bookings",
    response_model=ReceivedBookings,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def received_bookings(
    user: CurrentUser,
    db: ReadDb,
    page: PageParams,
    store_id: uuid.UUID | None = None,
    status: BookingStatus | None = None,
) -> dict[str, Any]:
    """For store owners: one store's bookings (`store_id`) or all of theirs, today's first, in
    line order. 403 for another's store or for a user who owns none."""
    return await bookings.received_bookings(db, user.id, page, store_id, status)


@router.get("/{booking_id}", response_model=BookingOut, responses=error_responses(Unauthorized, NotFound))
async def get_booking(
    booking_id: uuid.UUID, user: CurrentUser, db: ReadDb, default_minutes: DefaultServiceMinutes
) -> dict[str, Any]:
    """For its customer and the store's owner: the number, status, place in line and wait.
    Anyone else's booking is a 404."""
    return await bookings.get_booking(db, user.id, booking_id, default_minutes)


@router.put(
    "/{booking_id}/status",
    response_model=StatusUpdated,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def update_status(
    booking_id: uuid.UUID,
    data: StatusUpdate,
    user: CurrentUser,
    session: DbSession,
    events: Events,
    default_minutes: DefaultServiceMinutes,
) -> dict[str, Any]:
    """The store owner moves a booking: waiting -> serving -> completed, or waiting or serving
    -> cancelled. Any other move is a 409 that says which moves are possible."""
    updated_at = await bookings.change_status(
        session, events, user.id, booking_id, data.status, default_minutes
    )
    return {
        "message": f"預約狀態已更新為{bookings.STATUS_LABELS[data.status.value]}",
        "updated_at": updated_at,
    }


@router.delete(
    "/{booking_id}",
    response_model=BookingCancelled,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def cancel_booking(
    booking_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    events: Events,
    default_minutes: DefaultServiceMinutes,
) -> dict[str, Any]:
    """The booker leaves the line (403 for anyone else); those behind move up."""
    cancelled_at = await bookings.cancel_booking(session, events, user.id, booking_id, default_minutes)
    return {"message": "預約已成功取消", "cancelled_at": cancelled_at}
