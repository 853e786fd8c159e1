"""Running a store's line (issue 14 item 4): the counter's calls and walk-ins, and the staff the
owner adds. No-show and recall are status changes: `PUT /bookings/{id}/status`."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from keel.apps.queue.deps import CurrentUser, DefaultServiceMinutes, Events
from keel.apps.queue.schemas import (
    Board,
    BookingCreated,
    CalledBooking,
    StaffAdd,
    StaffList,
    StaffMember,
    WalkInCreate,
)
from keel.apps.queue.services import board, counter, staff
from keel.core.db import AppDatabase, DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/stores/{store_id}", tags=["staff"], route_class=TransactionalRoute)


@router.get("/board", response_model=Board, responses=error_responses(Unauthorized, Forbidden, NotFound))
async def store_board(
    store_id: uuid.UUID,
    user: CurrentUser,
    db: ReadDb,
    default_minutes: DefaultServiceMinutes,
    limit: Annotated[int, Query(ge=1, le=500, description="How many of the waiting to list")] = 100,
) -> dict[str, Any]:
    """The counter's board: who is being served, who waits (by name, with their place and
    wait; the first `limit`, and `waiting_total`) and the day's no-shows, for the owner and
    the store's staff (403 for anyone else, 404 for no such store)."""
    return await board.board(db, user.id, store_id, default_minutes, limit)


@router.post(
    "/call-next",
    response_model=CalledBooking,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def call_next(
    store_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    events: Events,
    default_minutes: DefaultServiceMinutes,
) -> dict[str, Any]:
    """The first in line becomes `serving` and is answered, with the customer's name. Others
    may be served already (several counters). 409 when nobody waits; 403 unless the owner or
    the store's staff."""
    return await counter.call_next(session, events, user.id, store_id, default_minutes)


@router.post(
    "/walk-ins",
    status_code=201,
    response_model=BookingCreated,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def walk_in(
    store_id: uuid.UUID,
    data: WalkInCreate,
    user: CurrentUser,
    session: DbSession,
    database: AppDatabase,
    events: Events,
    default_minutes: DefaultServiceMinutes,
) -> dict[str, Any]:
    """The owner or staff queue a customer without the app, by name: the next number, as in
    `POST /bookings`, even while the store has paused bookings or is outside its hours."""
    return await counter.walk_in(session, database, events, user.id, store_id, data, default_minutes)


@router.get("/staff", response_model=StaffList, responses=error_responses(Unauthorized, Forbidden, NotFound))
async def list_staff(store_id: uuid.UUID, user: CurrentUser, db: ReadDb) -> dict[str, Any]:
    """For the owner and the staff, oldest first."""
    return {"staff": await staff.list_staff(db, store_id, user.id)}


@router.post(
    "/staff",
    status_code=201,
    response_model=StaffMember,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def add_staff(
    store_id: uuid.UUID, data: StaffAdd, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """The owner adds a user, by `email` or `user_id`; 404 when there is no such user, 409 when
    they are the owner or already on the staff."""
    return await staff.add_staff(session, store_id, user.id, data)


@router.delete(
    "/staff/{user_id}", status_code=204, responses=error_responses(Unauthorized, Forbidden, NotFound)
)
async def remove_staff(
    store_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> Response:
    """The owner removes a user from the staff; 404 when they are not on it."""
    await staff.remove_staff(session, store_id, user.id, user_id)
    return Response(status_code=204)
