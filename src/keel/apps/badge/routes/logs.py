from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from keel.apps.badge.deps import Principal, Reader, Writer
from keel.apps.badge.schemas import Level, LogOut, LogPage, LogStatistics, Resolve
from keel.apps.badge.services import logs
from keel.apps.badge.services.logs import LogFilter
from keel.core.db import Autocommit, DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, error_responses
from keel.core.pagination import PageParams
from keel.core.params import IntId, UtcDatetime

router = APIRouter(prefix="/api/v1/logs", tags=["logs"], route_class=TransactionalRoute)

Period = Annotated[str, Query(max_length=8, description="24h, 7d, 4w...")]


async def _device_scope(principal: Principal, db: Autocommit, device_id: str | None) -> str | None:
    """A device reads its own logs only, whatever it asks for; a `user` those of their badges
    (another's named is 404, and without a name the list is theirs: LogFilter.owner)."""
    if principal.is_device:
        principal.own_device(device_id or principal.device_id or "")
        return principal.device_id
    if device_id is not None and principal.owner is not None:
        await principal.see_device(db, device_id)
    return device_id


async def _filters(
    principal: Reader,
    db: ReadDb,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    level: Level | None = None,
    module: Annotated[str | None, Query(max_length=64)] = None,
    start_time: UtcDatetime | None = None,
    end_time: UtcDatetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text the message contains")] = None,
    code: Annotated[str | None, Query(max_length=16)] = None,
    resolved: bool | None = None,
) -> LogFilter:
    return LogFilter(
        device_id=await _device_scope(principal, db, device_id),
        owner=principal.owner,
        level=level,
        module=module,
        start_time=start_time,
        end_time=end_time,
        text=q,
        code=code,
        resolved=resolved,
    )


Filters = Annotated[LogFilter, Depends(_filters)]


@router.get("", response_model=LogPage, responses=error_responses(Unauthorized, NotFound))
async def query(filters: Filters, db: ReadDb, page: PageParams) -> Any:
    """Newest first. `start_time` and `end_time` take dates or ISO times (UTC unless zoned)."""
    return await logs.query(db, filters, page)


@router.get("/statistics", response_model=LogStatistics, responses=error_responses(Unauthorized, NotFound))
async def statistics(
    principal: Reader,
    db: ReadDb,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    period: Period = "7d",
) -> dict[str, Any]:
    """Counts by level, module and day (UTC) over the period."""
    return await logs.statistics(db, await _device_scope(principal, db, device_id), principal.owner, period)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}}
    | error_responses(Unauthorized, NotFound),
)
async def export(filters: Filters, db: ReadDb, format: Literal["csv", "json"] = "csv") -> StreamingResponse:
    """Every matching log, oldest first, streamed in chunks (never all in memory)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if format == "json":
        body, media = logs.export_json(db, filters), "application/json"
    else:
        body, media = logs.export_csv(db, filters), "text/csv; charset=utf-8"
    # The first part (with the first read) is taken before the answer starts: a filter the
    # database refuses (a NUL in a text) is then a 422 like anywhere else, not a download cut
    # short after its 200.
    first = await anext(body)
    headers = {"Content-Disposition": f'attachment; filename="logs-{stamp}.{format}"'}
    return StreamingResponse(_from(first, body), media_type=media, headers=headers)


async def _from(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for part in rest:
        yield part


@router.put(
    "/{log_id}/resolve",
    response_model=LogOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def resolve(log_id: IntId, data: Resolve, writer: Writer, session: DbSession) -> Any:
    """Mark a log resolved, with how; 409 when it already is. A `user`: their badges' logs."""
    return await logs.resolve(session, log_id, data.resolution, owner=writer.owner)
