from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from keel.apps.fitness.deps import CurrentUser, StartedBefore, StartedFrom
from keel.apps.fitness.models import IdempotencyKey
from keel.apps.fitness.schemas import (
    BatchUnreadable,
    BatchUploadIn,
    BatchUploadOut,
    BatchUploadRejected,
    SessionChange,
    SessionStatus,
    SourceType,
    UserStatOut,
    WorkoutSessionDetail,
    WorkoutSessionIn,
    WorkoutSessionOut,
    WorkoutSessionUploaded,
)
from keel.apps.fitness.services import sessions
from keel.core.changes import ChangePage, ChangesParams
from keel.core.db import AppDatabase, DbSession, TransactionalRoute
from keel.core.encoding import FastJSONResponse
from keel.core.errors import Conflict, Gone, NotFound, Unauthorized, Unprocessable, error_responses
from keel.core.http import MiB, body_limit
from keel.core.idempotency import Idempotency, IdempotencyKeyHeader
from keel.core.pagination import Page, PageParams, page_of

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"], route_class=TransactionalRoute)
# A batch run twice stores each session once anyway (client ids are unique per user), so a
# claim left by a crashed process may be taken over after half a minute.
idempotency = Idempotency(IdempotencyKey, lease=timedelta(seconds=30))


@router.post(
    "/batch_upload",
    response_model=BatchUploadOut,
    status_code=201,
    responses={
        200: {
            "model": BatchUploadOut,
            "description": "Nothing new was stored: every item is a duplicate, "
            "or some are and the rest were rejected",
        },
        422: {
            "model": BatchUploadRejected | BatchUnreadable,
            "description": "Every item was rejected (each result says why), or the body is not a batch "
            "(`detail` only)",
        },
    }
    | error_responses(Unauthorized, Conflict),
    # The body is read as bytes, not parsed by FastAPI: see services.sessions.read_batch.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BatchUploadIn.model_json_schema()}},
        }
    },
)
# Up to 500 sessions (MAX_BATCH) with their time series: 100 sessions of 600 points are 3.7 MB,
# so a full batch of those is about 18 MB. Phones may send it gzipped; the limit is the decoded size.
@body_limit(32 * MiB)
async def batch_upload(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    database: AppDatabase,
    key: IdempotencyKeyHeader,
) -> Response:
    """Store what the phone recorded offline. Every item is answered created, duplicate (by
    `client_session_id`, or its alias `client_session_uuid`) or rejected with a reason the user
    can read, and may carry `warnings`: what was stored as sent without being understood. The
    batch is 201 when anything was created, 200 when nothing was but not everything was
    rejected, and 422 (with the results) when every item was rejected."""
    items = sessions.read_batch(await request.body())
    if key is not None:
        await idempotency.guard(request, f"user:{user.id}:sessions.batch_upload", key)
    outcome = await sessions.store(session, database.autocommit, user.id, items)
    stats = UserStatOut.model_validate(outcome.stats or await sessions.stats_of(database.autocommit, user.id))
    # Built as BatchUploadOut documents it, without a model per item: orjson writes the ids and
    # statuses as they are.
    body = {
        "results": outcome.results,
        "created": outcome.count(SessionStatus.created),
        "duplicates": outcome.count(SessionStatus.duplicate),
        "rejected": outcome.count(SessionStatus.rejected),
        "stats": stats.model_dump(mode="json"),
    }
    status_code = 201 if outcome.created else 200
    if outcome.count(SessionStatus.rejected) == len(outcome.results):
        status_code = 422
        # The 422 list shape every keel 422 has, beside the results that say why per item.
        refused = Unprocessable("every session was rejected; see results", loc=("body", "sessions"))
        body["detail"] = refused.body()["detail"]
    return FastJSONResponse(body, status_code=status_code)


@router.post(
    "",
    response_model=WorkoutSessionUploaded,
    status_code=201,
    responses={200: {"model": WorkoutSessionUploaded, "description": "Already stored"}}
    | error_responses(Unauthorized, Unprocessable, Gone),
)
async def upload_one(
    data: WorkoutSessionIn, user: CurrentUser, session: DbSession, database: AppDatabase
) -> JSONResponse:
    """One session: 201 when stored, 200 with the stored one when it already was, 410 when it
    was stored and has been deleted since (it is not stored again), 422 with the reason when it
    is rejected; `warnings` as in a batch."""
    one = sessions.read_session(orjson.dumps(data.model_dump(mode="json")))
    outcome = await sessions.store(session, database.autocommit, user.id, [one])
    [result] = outcome.results
    if result["status"] is SessionStatus.rejected:
        raise Unprocessable(result["reason"])
    if result["status"] is SessionStatus.duplicate and result["warnings"]:
        raise Gone(f"this session was {result['warnings'][0]}")
    stored = await sessions.find(session, user.id, str(result["id"]), with_series=False)
    body = jsonable_encoder(WorkoutSessionUploaded.model_validate(stored | {"warnings": result["warnings"]}))
    return JSONResponse(body, status_code=201 if outcome.created else 200)


@router.get(
    "",
    response_model=Page[WorkoutSessionOut] | ChangePage[SessionChange],
    responses=error_responses(Unauthorized, Unprocessable, Gone),
)
async def history(
    user: CurrentUser,
    session: DbSession,
    database: AppDatabase,
    page: PageParams,
    changed: ChangesParams,
    device_type: Annotated[str | None, Query(max_length=16)] = None,
    source_type: SourceType | None = None,
    since: StartedFrom = None,
    until: StartedBefore = None,
) -> Any:
    """The user's sessions, newest first, without their time series.

    With `updated_since` (then `cursor`), what changed instead, oldest first: sessions stored
    since, and those deleted since as tombstones (`deleted: true`, `deleted_at`). That is how a
    second phone of the user catches up: ask again with the answer's `cursor` while `has_more`,
    then later with the last `cursor`. An item may come again in the next answer (the last
    minute is read twice, so nothing committed late is missed): apply items by `id`. A position
    older than KEEL_RETENTION_TOMBSTONES_DAYS is 410: read the whole list again."""
    if changed is not None:
        if (device_type, source_type, since, until) != (None, None, None, None):
            raise Unprocessable("the change feed takes no filters", loc=("query", "updated_since"))
        return await sessions.changes(database.autocommit, user.id, changed)
    items, total = await sessions.history(
        session,
        user.id,
        page,
        device_type=device_type,
        source_type=source_type,
        since=since,
        until=until,
    )
    return page_of(items, total, page)


@router.get(
    "/{session_id}", response_model=WorkoutSessionDetail, responses=error_responses(Unauthorized, NotFound)
)
async def detail(
    session_id: Annotated[str, Path(max_length=64)], user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """One session with its time series, by server id or the phone's client id."""
    return await sessions.find(session, user.id, session_id, with_series=True)


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(Unauthorized, NotFound),
)
async def remove(
    session_id: Annotated[str, Path(max_length=64)], user: CurrentUser, session: DbSession
) -> None:
    """Delete a session; its numbers leave the user's totals, and its tombstone tells the
    user's other phones (`GET /sessions?updated_since=`) and stops it from being uploaded
    again. Deleting it again is 204 too; a session that never was is 404."""
    await sessions.remove(session, user.id, session_id)
