import datetime as dt
from typing import Any

from fastapi import APIRouter

from keel.apps.coach.deps import CurrentUser, ReadLimit, WriteLimit
from keel.apps.coach.schemas import DayLogOut, DayLogUpdate
from keel.apps.coach.services import daylogs
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/day-logs", tags=["day-logs"], route_class=TransactionalRoute)


@router.get(
    "/{date}", response_model=DayLogOut, responses=error_responses(Unauthorized), dependencies=[ReadLimit]
)
async def read(date: dt.date, user: CurrentUser, db: ReadDb) -> dict[str, Any]:
    """The day's records per dimension, its score against the user's targets, the AI's report
    and plan. A day with nothing recorded is an empty, open log (not a 404): the client shows it."""
    return await daylogs.read(db, user.id, date)


@router.put(
    "/{date}",
    response_model=DayLogOut,
    responses=error_responses(Unauthorized, Conflict),
    dependencies=[WriteLimit],
)
async def change(date: dt.date, data: DayLogUpdate, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Set the day's `status` (open, reviewed) or `note`; with `version`, a stale edit is 409."""
    await daylogs.change(session, user.id, date, data)
    return await daylogs.read(session, user.id, date)
