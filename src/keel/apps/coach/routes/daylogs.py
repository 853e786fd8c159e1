import datetime as dt
from typing import Any

from fastapi import APIRouter

from keel.apps.coach.deps import CurrentUser, ReadLimit, WriteLimit
from keel.apps.coach.schemas import DayLogChange, DayLogOut, DayLogUpdate, conflict_response
from keel.apps.coach.services import daylogs
from keel.core.changes import ChangePage, ChangesParams
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Gone, Unauthorized, Unprocessable, error_responses

router = APIRouter(prefix="/api/v1/day-logs", tags=["day-logs"], route_class=TransactionalRoute)


@router.get(
    "",
    response_model=ChangePage[DayLogChange],
    responses=error_responses(Unauthorized, Gone),
    dependencies=[ReadLimit],
)
async def changed(user: CurrentUser, db: ReadDb, changes: ChangesParams) -> Any:
    """The day logs changed after `updated_since` (then `cursor`), oldest first: each log's own
    fields (its records come from their own feeds at `/records/{dimension}?updated_since=`).
    Ask again with the answer's `cursor` while `has_more`. An item may come again in the next
    answer (the last minute is read twice, so a write committed late is not missed): apply
    items by `date`. A position older than KEEL_RETENTION_TOMBSTONES_DAYS is 410."""
    if changes is None:
        raise Unprocessable("send updated_since (or cursor)", loc=("query", "updated_since"))
    return await daylogs.changes(db, user.id, changes)


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
    responses=conflict_response,
    dependencies=[WriteLimit],
)
async def change(date: dt.date, data: DayLogUpdate, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Set the day's `status` (open, reviewed) or `note`; with `version`, a stale edit is 409
    with the server's log as `current`."""
    await daylogs.change(session, user.id, date, data)
    return await daylogs.read(session, user.id, date)
