"""Logs: the filtered, paged query; counts by level, module and day; an export streamed in
chunks read by id, so a million rows are never in memory at once; resolving an error."""

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.badge.models import ErrorLog
from keel.apps.badge.schemas import Level
from keel.apps.badge.services import devices
from keel.core.db import Autocommit, Executor, utcnow
from keel.core.encoding import dumps
from keel.core.errors import Conflict, NotFound, Unprocessable
from keel.core.pagination import PageRequest, fetch_page, page_of

EXPORT_CHUNK = 2000
_PERIOD = re.compile(r"^(\d{1,4})([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
COLUMNS = [column for column in ErrorLog.__table__.columns]


@dataclass(frozen=True, slots=True)
class LogFilter:
    device_id: str | None = None
    # A `user`'s id: only the logs of the badges bound to them (issue 17 item 8).
    owner: int | None = None
    level: Level | None = None
    module: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    text: str | None = None
    code: str | None = None
    resolved: bool | None = None

    def __post_init__(self) -> None:
        if self.start_time and self.end_time and self.start_time > self.end_time:
            raise Unprocessable("start_time is after end_time", loc=("query", "start_time"))

    def apply(self, statement: Select[Any]) -> Select[Any]:
        conditions = []
        if self.device_id is not None:
            conditions.append(ErrorLog.device_id == self.device_id)
        if self.owner is not None:
            conditions.append(ErrorLog.device_id.in_(devices.owned_by(self.owner)))
        if self.level is not None:
            conditions.append(ErrorLog.error_level == self.level.value)
        if self.module is not None:
            conditions.append(ErrorLog.module_name == self.module)
        if self.code is not None:
            conditions.append(ErrorLog.error_code == self.code)
        if self.start_time is not None:
            conditions.append(ErrorLog.occurred_at >= self.start_time)
        if self.end_time is not None:
            conditions.append(ErrorLog.occurred_at <= self.end_time)
        if self.text:
            # A case-insensitive substring; LIKE's own wildcards in the text are matched literally.
            escaped = self.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(func.lower(ErrorLog.error_message).like(f"%{escaped}%", escape="\\"))
        if self.resolved is not None:
            column = ErrorLog.resolved_at
            conditions.append(column.is_not(None) if self.resolved else column.is_(None))
        return statement.where(*conditions)


async def query(db: Executor, filters: LogFilter, page: PageRequest) -> Any:
    statement = filters.apply(select(*COLUMNS)).order_by(ErrorLog.occurred_at.desc(), ErrorLog.id.desc())
    rows, total = await fetch_page(db, statement, page)
    return page_of([dict(row._mapping) for row in rows], total, page)


def since(period: str) -> datetime:
    match = _PERIOD.match(period)
    if match is None or int(match.group(1)) == 0:
        raise Unprocessable("period must look like 24h, 7d or 4w", loc=("query", "period"))
    return utcnow() - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


async def statistics(db: Executor, device_id: str | None, owner: int | None, period: str) -> dict[str, Any]:
    start = since(period)
    filters = LogFilter(device_id=device_id, owner=owner, start_time=start)

    async def counts(column: Any) -> dict[str, int]:
        statement = filters.apply(select(column, func.count()).group_by(column))
        return {str(key) if key is not None else "": n for key, n in (await db.execute(statement)).all()}

    by_level = await counts(ErrorLog.error_level)
    return {
        "period": period,
        "since": start,
        "total": sum(by_level.values()),
        "by_level": by_level,
        "by_module": await counts(ErrorLog.module_name),
        # date() is a function on SQLite, MySQL and PostgreSQL alike.
        "by_day": dict(sorted((await counts(func.date(ErrorLog.occurred_at))).items())),
    }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in row.items()}


async def _chunks(db: Autocommit, filters: LogFilter) -> AsyncIterator[list[dict[str, Any]]]:
    """Rows in id order, a chunk per statement, each on a connection held only while it runs."""
    after = 0
    while True:
        statement = (
            filters.apply(select(*COLUMNS))
            .where(ErrorLog.id > after)
            .order_by(ErrorLog.id)
            .limit(EXPORT_CHUNK)
        )
        rows = [dict(row) for row in (await db.execute(statement)).mappings()]
        if not rows:
            return
        yield rows
        after = rows[-1]["id"]


# Each exporter's first part comes with the first chunk of rows, so the first read runs before
# anything is sent: `routes.logs.export` awaits that part before the answer starts.


async def export_csv(db: Autocommit, filters: LogFilter) -> AsyncIterator[bytes]:
    names = [column.key for column in COLUMNS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names)
    writer.writeheader()  # sent with the first chunk, or alone when there is none
    empty = True
    async for rows in _chunks(db, filters):
        for row in rows:
            row["error_details"] = (
                None if row["error_details"] is None else dumps(row["error_details"]).decode()
            )
            writer.writerow(_plain(row))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        empty = False
    if empty:
        yield buffer.getvalue().encode()


async def export_json(db: Autocommit, filters: LogFilter) -> AsyncIterator[bytes]:
    opening = b"["
    async for rows in _chunks(db, filters):
        yield opening + b",".join(orjson.dumps(row) for row in rows)
        opening = b","
    yield b"[]" if opening == b"[" else b"]"


async def resolve(session: AsyncSession, log_id: int, resolution: str, *, owner: int | None) -> ErrorLog:
    log = await session.get(ErrorLog, log_id)
    if log is None:
        raise NotFound(f"No log {log_id}")
    if owner is not None:  # another user's badge's log does not exist for this one
        try:
            await devices.require_device(session, log.device_id, owner)
        except NotFound:
            raise NotFound(f"No log {log_id}") from None
    done = await session.execute(
        update(ErrorLog)
        .where(ErrorLog.id == log_id, ErrorLog.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolution=resolution)
    )
    if done.rowcount != 1:
        raise Conflict(f"Log {log_id} is already resolved")
    await session.refresh(log)
    return log
