import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from keel.apps.coach.deps import AILimit, CurrentUser, ReadLimit
from keel.apps.coach.schemas import (
    PlanRequest,
    ReadingSummaryRequest,
    ReviewRequest,
    TaskOut,
    TaskStatus,
    TaskType,
)
from keel.apps.coach.services import ai
from keel.apps.coach.services.records import today
from keel.core.db import DbSession, ReadDb, TransactionalRoute, request_database
from keel.core.errors import NotFound, TooManyRequests, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/ai", tags=["ai"], route_class=TransactionalRoute)
_accepted = {"status_code": 202, "response_model": TaskOut, "dependencies": [AILimit]}
_errors = error_responses(Unauthorized, TooManyRequests)

# How often a stream looks at its task, and how long it stays open before the client reconnects.
EVENT_POLL_SECONDS = 0.5
EVENT_STREAM_SECONDS = 300
KEEPALIVE_SECONDS = 15


@router.post("/review", **_accepted, responses=_errors)
async def review(data: ReviewRequest, request: Request, user: CurrentUser, session: DbSession) -> Any:
    """The night review of a day: answered at once with the queued task; the report lands on
    the day log (`ai_report`) and in the task's `result`."""
    return await ai.submit(session, request, user.id, TaskType.review, {"date": data.date.isoformat()})


@router.post("/tomorrow-plan", **_accepted, responses=_errors)
async def tomorrow_plan(data: PlanRequest, request: Request, user: CurrentUser, session: DbSession) -> Any:
    """A plan for `date` (default: tomorrow where the user lives), from the last seven days;
    it lands on that day's log (`ai_plan`)."""
    day = data.date or today(user.timezone) + dt.timedelta(days=1)
    return await ai.submit(session, request, user.id, TaskType.tomorrow_plan, {"date": day.isoformat()})


@router.post("/reading-summary", **_accepted, responses=_errors)
async def reading_summary(
    data: ReadingSummaryRequest, request: Request, user: CurrentUser, session: DbSession
) -> Any:
    """A summary of what the user read from `from` to `to` (default: the last seven days)."""
    until = data.to or today(user.timezone)
    # Six days back, or to the calendar's first day (`to` may be 0001-01-03).
    since = data.from_ or until - dt.timedelta(days=min(6, (until - dt.date.min).days))
    if since > until:
        since = until
    given = {"from": since.isoformat(), "to": until.isoformat()}
    return await ai.submit(session, request, user.id, TaskType.reading_summary, given)


@router.get(
    "/tasks/{task_id}",
    response_model=TaskOut,
    responses=error_responses(Unauthorized, NotFound),
    dependencies=[ReadLimit],
)
async def task(task_id: uuid.UUID, user: CurrentUser, db: ReadDb) -> Any:
    """Poll a task: queued, running, succeeded (with `result`) or failed (with `error`)."""
    return await ai.find(db, user.id, task_id)


def _event(task: dict[str, Any], number: int) -> bytes:
    body = orjson.dumps(jsonable_encoder(TaskOut.model_validate(task)))
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (number, task["status"].encode(), body)


@router.get(
    "/tasks/{task_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "One event per status change"}}
    | error_responses(Unauthorized, NotFound),
    dependencies=[ReadLimit],
)
async def task_events(
    task_id: uuid.UUID, request: Request, user: CurrentUser, db: ReadDb
) -> StreamingResponse:
    """Server-sent events: the task now, then one event (named after the status) each time its
    status changes, until it succeeds or fails. Comments keep idle connections open."""
    first = await ai.find(db, user.id, task_id)  # 404 before the stream starts
    autocommit = request_database(request).autocommit

    async def stream() -> AsyncIterator[bytes]:
        task, number, quiet = first, 1, 0.0
        yield _event(task, number)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVENT_STREAM_SECONDS
        while task["status"] not in (TaskStatus.succeeded, TaskStatus.failed) and loop.time() < deadline:
            await asyncio.sleep(EVENT_POLL_SECONDS)
            current = await ai.find(autocommit, user.id, task_id)
            if current["status"] != task["status"]:
                task, number, quiet = current, number + 1, 0.0
                yield _event(task, number)
            else:
                quiet += EVENT_POLL_SECONDS
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield b": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
