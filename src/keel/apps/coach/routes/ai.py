import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from keel.apps.coach.deps import AILimit, CurrentUser, ReadLimit, StreamUser, WriteLimit
from keel.apps.coach.schemas import (
    FINISHED,
    PlanRequest,
    ReadingSummaryRequest,
    ReviewRequest,
    TaskList,
    TaskOut,
    TaskStatus,
    TaskType,
)
from keel.apps.coach.services import ai
from keel.apps.coach.services.records import today
from keel.core.db import DbSession, ReadDb, TransactionalRoute, request_database
from keel.core.errors import Conflict, NotFound, TooManyRequests, Unauthorized, Unprocessable, error_responses
from keel.core.idempotency import IdempotencyKeyHeader
from keel.core.pagination import PageParams

router = APIRouter(prefix="/api/v1/ai", tags=["ai"], route_class=TransactionalRoute)
_accepted = {"status_code": 202, "response_model": TaskOut, "dependencies": [AILimit]}
_errors = error_responses(Unauthorized, Conflict, Unprocessable, TooManyRequests)

# How often a stream looks at its task, and how long it stays open before the client reconnects.
EVENT_POLL_SECONDS = 0.5
EVENT_STREAM_SECONDS = 300
KEEPALIVE_SECONDS = 15


def _location(request: Request, task_id: Any) -> dict[str, str]:
    # A path (with the mount's prefix), valid whatever host the client reached us by.
    return {"Location": request.url_for("task", task_id=str(task_id)).path}


async def _submit(
    request: Request,
    response: Response,
    user: Any,
    session: DbSession,
    key: str | None,
    kind: TaskType,
    given: dict[str, Any],
) -> dict[str, Any]:
    """The task (new, run again, or the stored one), with its Location; with an
    `Idempotency-Key`, a retry answers the first answer."""
    if key is not None:
        scope = f"user:{user.id}:ai.{kind}"
        await ai.idempotency.guard(
            request, scope, key, replay_headers=lambda body: _location(request, body["id"])
        )
    quota = request.app.state.settings.coach_ai_daily_quota
    task = await ai.submit(session, request, user.id, kind, given, daily_quota=quota)
    response.headers.update(_location(request, task["id"]))
    return task


@router.post("/review", **_accepted, responses=_errors)
async def review(
    data: ReviewRequest,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: DbSession,
    key: IdempotencyKeyHeader,
) -> Any:
    """The night review of a day: answered at once with the queued task (or the day's task
    already asked for); the report lands on the day log (`ai_report`) and in the task's `result`."""
    given = {"date": data.date.isoformat()}
    return await _submit(request, response, user, session, key, TaskType.review, given)


@router.post("/tomorrow-plan", **_accepted, responses=_errors)
async def tomorrow_plan(
    data: PlanRequest,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: DbSession,
    key: IdempotencyKeyHeader,
) -> Any:
    """A plan for `date` (default: tomorrow where the user lives), from the last seven days;
    it lands on that day's log (`ai_plan`)."""
    day = data.date or today(user.timezone) + dt.timedelta(days=1)
    given = {"date": day.isoformat()}
    return await _submit(request, response, user, session, key, TaskType.tomorrow_plan, given)


@router.post("/reading-summary", **_accepted, responses=_errors)
async def reading_summary(
    data: ReadingSummaryRequest,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: DbSession,
    key: IdempotencyKeyHeader,
) -> Any:
    """A summary of what the user read from `from` to `to` (default: the last seven days)."""
    until = data.to or today(user.timezone)
    # Six days back, or to the calendar's first day (`to` may be 0001-01-03).
    since = data.from_ or until - dt.timedelta(days=min(6, (until - dt.date.min).days))
    if since > until:
        since = until
    given = {"from": since.isoformat(), "to": until.isoformat()}
    return await _submit(request, response, user, session, key, TaskType.reading_summary, given)


@router.get(
    "/tasks", response_model=TaskList, responses=error_responses(Unauthorized), dependencies=[ReadLimit]
)
async def tasks(
    user: CurrentUser,
    db: ReadDb,
    page: PageParams,
    type: TaskType | None = None,
    status: TaskStatus | None = None,
) -> Any:
    """The user's tasks, newest first, of one `type` and `status` when given."""
    return await ai.tasks(db, user.id, page, type, status)


@router.get(
    "/tasks/{task_id}",
    response_model=TaskOut,
    responses=error_responses(Unauthorized, NotFound),
    dependencies=[ReadLimit],
)
async def task(task_id: uuid.UUID, user: CurrentUser, db: ReadDb) -> Any:
    """Poll a task: queued, running, succeeded (with `result`), failed (with `error`) or
    canceled. A fallback's `result` (the rules' template) has `fallback: true`."""
    return await ai.find(db, user.id, task_id)


@router.post(
    "/tasks/{task_id}/cancel",
    response_model=TaskOut,
    responses=error_responses(Unauthorized, NotFound, Conflict),
    dependencies=[WriteLimit],
)
async def cancel(task_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Any:
    """Queued or running -> canceled (nothing it writes afterwards is kept); 409 once finished."""
    return await ai.cancel(session, user.id, task_id)


def _event(task: dict[str, Any]) -> bytes:
    body = orjson.dumps(jsonable_encoder(TaskOut.model_validate(task)))
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (task["seq"], task["status"].encode(), body)


@router.get(
    "/tasks/{task_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "One event per status change"}}
    | error_responses(Unauthorized, NotFound),
    dependencies=[ReadLimit],
)
async def task_events(
    task_id: uuid.UUID,
    request: Request,
    user: StreamUser,
    db: ReadDb,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
) -> StreamingResponse:
    """Server-sent events: the task now, then one event (named after the status) each time its
    status changes, until it has finished. Each event's id is the task's change number: a
    client reconnecting with `Last-Event-ID` gets only what changed after it (nothing, and the
    stream ends, when it had the last). Takes the token as `?access_token=` too (EventSource
    cannot send headers). Comments keep idle connections open."""
    first = await ai.find(db, user.id, task_id)  # 404 before the stream starts
    autocommit = request_database(request).autocommit

    async def stream() -> AsyncIterator[bytes]:
        task, quiet = first, 0.0
        if last_event_id is None or task["seq"] > last_event_id:
            yield _event(task)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVENT_STREAM_SECONDS
        while task["status"] not in FINISHED and loop.time() < deadline:
            await asyncio.sleep(EVENT_POLL_SECONDS)
            current = await ai.find(autocommit, user.id, task_id)
            if current["seq"] != task["seq"]:
                task, quiet = current, 0.0
                yield _event(task)
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
