import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from keel.apps.coach.deps import CurrentUser, ReadLimit, spend_ai_rate
from keel.apps.coach.schemas import StatsOut
from keel.apps.coach.services import stats, summaries
from keel.apps.coach.services.records import today
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.encoding import FastJSONResponse
from keel.core.errors import TooManyRequests, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/stats", tags=["stats"], route_class=TransactionalRoute)

# Bounded so the period, the one before it (the change is against it) and the month's end are
# all dates: 0001-01-01's previous week, or December 9999's end, is not.
Day = Annotated[
    dt.date | None,
    Query(
        alias="date",
        ge=dt.date(1900, 1, 1),
        le=dt.date(9999, 11, 30),
        description="Any day of the period, 1900-01-01 to 9999-11-30; default: today",
    ),
]

Summary = Annotated[
    bool,
    Query(
        alias="summary",
        description="Ask for the AI summary when the period has records and none is written yet (or "
        "the running period's is over 6 hours old): spends the AI rate limit and the daily quota",
    ),
]
_errors = error_responses(Unauthorized, TooManyRequests)


async def _stats(
    kind: str, day: dt.date | None, asked: bool, request: Request, user: Any, db: ReadDb, session: DbSession
) -> FastJSONResponse:
    now = today(user.timezone)
    period = stats.Period.containing(kind, day or now)
    body, cached = await stats.read(db, user.id, period, now)
    summary, task_id = await summaries.for_request(
        session,
        request,
        user,
        period,
        body,
        cached,
        asked=asked,
        charge=lambda: spend_ai_rate(request),
        daily_quota=request.app.state.settings.coach_ai_daily_quota,
    )
    # Written as StatsOut documents it (stats.read gives every number its type), without a
    # model per dimension: a stats read is a phone's most frequent call after the day log.
    return FastJSONResponse({**body, "ai_summary": summary, "ai_summary_task_id": task_id})


@router.get("/weekly", response_model=StatsOut, responses=_errors, dependencies=[ReadLimit])
async def weekly(
    request: Request,
    user: CurrentUser,
    db: ReadDb,
    session: DbSession,
    day: Day = None,
    summary: Summary = False,
) -> Any:
    """Monday to Sunday: per-dimension totals and daily averages, days on target, streaks, the
    change against the week before, and the AI's summary: the one written (by `?summary=true`
    or by the nightly job once the week is over), null with its task id while it is written."""
    return await _stats("weekly", day, summary, request, user, db, session)


@router.get("/monthly", response_model=StatsOut, responses=_errors, dependencies=[ReadLimit])
async def monthly(
    request: Request,
    user: CurrentUser,
    db: ReadDb,
    session: DbSession,
    day: Day = None,
    summary: Summary = False,
) -> Any:
    """The calendar month, as the weekly stats are."""
    return await _stats("monthly", day, summary, request, user, db, session)
