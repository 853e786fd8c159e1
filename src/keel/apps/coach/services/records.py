"""The five dimensions' records: idempotent create with the client's id, versioned edits, soft
deletes, and the day log each record belongs to (the dimensions themselves: dimensions.py; the
change feed an offline client syncs by: record_feed.py).
Every write moves the day's totals (`DayTotal`) in the same transaction, so stats never sum the
records themselves.

A deleted record stays as its tombstone (`deleted_at` set) so other devices learn of the
deletion; every read but the change feed's (`live`) skips it, and it goes for good after
KEEL_RETENTION_TOMBSTONES_DAYS (retention) or with the account."""

import datetime as dt
import math
import uuid
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import (
    Select,
    Subquery,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, TextualSelect

from keel.apps.coach import schemas
from keel.apps.coach.models import DayLog, DayTotal
from keel.apps.coach.schemas import DayStatus, Dimension
from keel.apps.coach.services.dimensions import DIMENSIONS, DimensionSpec, live
from keel.core.db import Database, Executor, fetch_all, utcnow
from keel.core.errors import Conflict, NotFound, PreconditionRequired, Unprocessable
from keel.core.sql import dialect_of, insert_adding, insert_skipping_duplicates


class VersionConflict(Conflict):
    """A write against a version the record has moved on from (or a deleted record): 409 with
    the server's copy as `current`, so an offline client can resolve the conflict itself."""

    def __init__(self, detail: str, current: dict[str, Any]):
        super().__init__(detail)
        self.current = current

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "current": self.current}


class _typed_null(ColumnElement[Any]):
    """NULL for a column a dimension lacks, typed like the column that has it. PostgreSQL types
    a bare NULL in a UNION as text (then clashes with the other branches), so it gets a CAST
    there; MariaDB and SQLite take the branches' common type, and MariaDB casts to few types."""

    inherit_cache = True

    def __init__(self, type_: Any):
        self.type = type_


@compiles(_typed_null)
def _bare_null(element: _typed_null, compiler: Any, **kw: Any) -> str:
    return "NULL"


@compiles(_typed_null, "postgresql")
def _cast_null(element: _typed_null, compiler: Any, **kw: Any) -> str:
    return compiler.process(cast(null(), element.type), **kw)


def _day_records() -> Subquery:
    """Every dimension's records of one day as one UNION ALL: `dimension`, `user_id` (to join
    on), then the union of the five dimensions' columns (NULL where a dimension lacks one). A day log read
    is then one round trip instead of five."""
    superset: dict[str, Any] = {}
    for spec in DIMENSIONS.values():
        for column in spec.columns:
            superset.setdefault(column.key, column.type)
    branches = []
    for name, spec in DIMENSIONS.items():
        own = {column.key: column for column in spec.columns}
        model = spec.model
        branches.append(
            select(
                literal_column(f"'{name}'").label("dimension"),
                model.user_id,
                *(
                    own[key] if key in own else _typed_null(type_).label(key)
                    for key, type_ in superset.items()
                ),
            ).where(model.user_id == bindparam("user_id"), model.date == bindparam("date"), live(model))
        )
    return union_all(*branches).subquery("day_records")


DAY_RECORDS = _day_records()
_DAY_QUERY = select(DAY_RECORDS).order_by(DAY_RECORDS.c.created_at, DAY_RECORDS.c.id)


def today(timezone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(timezone)).date()


def _record_date(spec: DimensionSpec, data: BaseModel, timezone: str) -> dt.date:
    """The record's own date, or the day it happened where the user lives: a night's sleep
    belongs to the day one wakes up."""
    given = getattr(data, "date", None)
    if given is not None:
        return given
    if spec.name is Dimension.sleep:
        return data.wake_time.astimezone(ZoneInfo(timezone)).date()  # type: ignore[attr-defined]
    return today(timezone)


def _fields(spec: DimensionSpec, data: BaseModel) -> dict[str, Any]:
    """The values a create or an edit stores in the record's own columns (note included)."""
    values = data.model_dump(exclude={"id", "date", "version"})
    if spec.name is Dimension.sleep:
        values["duration_minutes"] = round((data.wake_time - data.bed_time).total_seconds() / 60)  # type: ignore[attr-defined]
    return values


def _measured(spec: DimensionSpec, values: dict[str, Any]) -> float:
    return float(values.get(spec.measure) or 0)


_TOTALS_KEY = ["user_id", "date", "dimension"]


async def _count(
    session: AsyncSession, spec: DimensionSpec, user_id: int, changes: list[tuple[dt.date, float, int]]
) -> None:
    """Add each (date, value, records) to the user's totals of the dimension on that date, in
    date order: two writes moving records between the same days lock them in the same order."""
    per_day: dict[dt.date, tuple[float, int]] = {}
    for day, value, records in changes:
        total, count = per_day.get(day, (0.0, 0))
        per_day[day] = (total + value, count + records)
    rows = [
        {"user_id": user_id, "date": day, "dimension": spec.name.value, "value": value, "records": records}
        for day, (value, records) in sorted(per_day.items())
        if value or records
    ]
    if rows:
        statement = insert_adding(session, DayTotal.__table__, _TOTALS_KEY, ["value", "records"])
        await session.execute(statement, rows)


async def day_log_id(session: AsyncSession, user_id: int, day: dt.date) -> int:
    """The id of the user's log for `day`, made on first use (concurrent first uses make one)."""
    found = (
        await session.execute(select(DayLog.id).where(DayLog.user_id == user_id, DayLog.date == day))
    ).scalar_one_or_none()
    if found is not None:
        return found
    await session.execute(
        insert_skipping_duplicates(session, DayLog.__table__, ["user_id", "date"]).values(
            user_id=user_id, date=day, status=DayStatus.open, version=1, updated_at=utcnow()
        )
    )
    return (
        await session.execute(select(DayLog.id).where(DayLog.user_id == user_id, DayLog.date == day))
    ).scalar_one()


async def find(db: Executor, spec: DimensionSpec, user_id: int, record_id: uuid.UUID) -> dict[str, Any]:
    model = spec.model
    row = (
        await db.execute(
            select(*spec.columns).where(model.id == record_id, model.user_id == user_id, live(model))
        )
    ).first()
    if row is None:
        raise NotFound(f"No {spec.name.value} record {record_id}")
    return dict(row._mapping)


async def create(
    database: Database,
    session: AsyncSession,
    spec: DimensionSpec,
    user_id: int,
    timezone: str,
    data: schemas.RecordCreate,
) -> tuple[dict[str, Any], bool]:
    """The stored record and whether it is new. A repeat of a stored client id is the sync of
    an offline copy: the same body answers the record as stored; another body with a newer
    `version` updates it; else 409 with the server's copy (`_repeat`).

    On PostgreSQL a new record is stored by one statement in autocommit (`_create_statement`),
    two round trips in all (the user, then this) instead of five. Whatever that statement does
    not store (an id stored before, a day log made by a concurrent request just then) goes the
    step-by-step way, which every other dialect always takes.
    """
    if dialect_of(database) == "postgresql":
        stored = await _create_in_one_statement(database, spec, user_id, timezone, data)
        if stored is not None:
            return stored, True
    return await create_in_session(session, spec, user_id, timezone, data)


@cache
def _create_statement(spec: DimensionSpec) -> TextualSelect:
    """Find or make the record's day log, insert the record and count it in the day's totals,
    in one statement. It stores nothing (and returns no row) when the id is already stored, or
    when neither the read nor the insert of the day log found it (another request's insert of it
    had not committed when this one began): the step-by-step way then settles it."""
    table = spec.model.__table__
    names = [column.key for column in table.c]
    values = ["log.id" if name == "day_log_id" else f":{name}" for name in names]
    sql = f"""
WITH existing AS (
    SELECT id FROM day_logs WHERE user_id = :user_id AND date = :date
),
made AS (
    INSERT INTO day_logs (user_id, date, status, version, updated_at)
    SELECT :user_id, :date, 'open', 1, :created_at
    WHERE NOT EXISTS (SELECT FROM existing) AND NOT EXISTS (SELECT FROM {table.name} WHERE id = :id)
    ON CONFLICT (user_id, date) DO NOTHING
    RETURNING id
),
stored AS (
    INSERT INTO {table.name} ({", ".join(names)})
    SELECT {", ".join(values)}
    FROM (SELECT id FROM existing UNION ALL SELECT id FROM made) AS log
    ON CONFLICT (id) DO NOTHING
    RETURNING id
),
counted AS (
    INSERT INTO day_totals (user_id, date, dimension, value, records)
    SELECT :user_id, :date, '{spec.name.value}', COALESCE(:{spec.measure}, 0), 1 FROM stored
    ON CONFLICT (user_id, date, dimension)
    DO UPDATE SET value = day_totals.value + EXCLUDED.value, records = day_totals.records + 1
)
SELECT id FROM stored
"""
    # As a TextualSelect (`.columns`), so it runs precompiled on asyncpg (Autocommit.fetch_all).
    return (
        text(sql)
        .bindparams(
            *(bindparam(column.key, type_=column.type) for column in table.c if column.key != "day_log_id")
        )
        .columns(table.c.id)
    )


async def _create_in_one_statement(
    database: Database, spec: DimensionSpec, user_id: int, timezone: str, data: schemas.RecordCreate
) -> dict[str, Any] | None:
    now = utcnow()
    record = {
        "id": data.id or uuid.uuid4(),
        "date": _record_date(spec, data, timezone),
        "version": data.version or 1,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
        **_fields(spec, data),
    }
    stored = await database.autocommit.fetch_all(_create_statement(spec), {**record, "user_id": user_id})
    if not stored:
        return None
    # Every column was given: no need to read the row back (times as they are read: UTC).
    return {key: _as_read(record[key]) for key in spec.keys}


async def create_in_session(
    session: AsyncSession, spec: DimensionSpec, user_id: int, timezone: str, data: schemas.RecordCreate
) -> tuple[dict[str, Any], bool]:
    """`create` inside the session's transaction (the seed's, and every dialect's but PostgreSQL's)."""
    model = spec.model
    if data.id is not None:
        stored = (
            (await session.execute(select(model.__table__).where(model.id == data.id))).mappings().first()
        )
        if stored is not None and stored["user_id"] == user_id:
            return await _repeat(session, spec, user_id, data, stored), False
        if stored is not None:
            raise Conflict("This record id is already in use; generate a new one")
    day, fields = _record_date(spec, data, timezone), _fields(spec, data)
    now = utcnow()
    record = model(
        id=data.id or uuid.uuid4(),
        user_id=user_id,
        day_log_id=await day_log_id(session, user_id, day),
        date=day,
        version=data.version or 1,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError:
        # The same id, sent twice at once: the other request stored it. The client's retry
        # will find it.
        raise Conflict("This record is being created by another request; retry") from None
    await _count(session, spec, user_id, [(day, _measured(spec, fields), 1)])
    # Every column was set above: no need to read the row back (times as they are read: UTC).
    return {column.key: _as_read(getattr(record, column.key)) for column in spec.columns}, True


def _as_read(value: Any) -> Any:
    return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else value


async def _repeat(
    session: AsyncSession, spec: DimensionSpec, user_id: int, data: schemas.RecordCreate, stored: Any
) -> dict[str, Any]:
    """A create repeating one of the user's stored ids: the same body (a retry) answers the
    record as stored; another body is an edit made offline, stored when its `version` is newer
    than the server's, else a conflict the client resolves from the server's copy."""
    record = {key: stored[key] for key in spec.keys}
    if stored["deleted_at"] is not None:
        raise VersionConflict(
            "The record was deleted; drop your copy or create it with a new id", _current(spec, stored)
        )
    if _same(spec, data, record):
        return record
    if data.version is not None and data.version > record["version"]:
        return await _update(session, spec, user_id, stored["id"], data, record["version"], data.version)
    raise VersionConflict(
        f"The record is at version {record['version']} with other values: send a newer version "
        "to replace them, or keep the server's copy",
        _current(spec, stored),
    )


def _same(spec: DimensionSpec, data: schemas.RecordCreate, record: dict[str, Any]) -> bool:
    """Whether a repeated create says what is stored (a date left out matches any: it was
    filled in by the first write)."""
    sent = _fields(spec, data)
    if data.date is not None:
        sent["date"] = data.date
    if data.version is not None:
        sent["version"] = data.version
    return all(_equal(value, record[key]) for key, value in sent.items())


def _equal(sent: Any, stored: Any) -> bool:
    # MariaDB keeps a FLOAT in single precision: 700.1 is read back as 700.0999755859375.
    if isinstance(sent, float) and isinstance(stored, float):
        return math.isclose(sent, stored, rel_tol=1e-6)
    return bool(sent == stored)


def _current(spec: DimensionSpec, stored: Any) -> dict[str, Any]:
    """The server's copy of a record row, as JSON: the record, or its tombstone."""
    model = schemas.Tombstone if stored["deleted_at"] is not None else spec.out
    return model.model_validate(dict(stored)).model_dump(mode="json")


async def replace(
    session: AsyncSession,
    spec: DimensionSpec,
    user_id: int,
    record_id: uuid.UUID,
    data: schemas.RecordUpdate,
    if_match: int | None,
) -> dict[str, Any]:
    """Replace the record's fields if it is still at the version the client edited: a stale
    edit (409 with the server's copy) changes nothing. A date left out keeps the record's date."""
    if data.version is not None and if_match is not None and data.version != if_match:
        raise Unprocessable("If-Match and version disagree", loc=("body", "version"))
    expected = data.version if data.version is not None else if_match
    if expected is None:
        raise PreconditionRequired("Send the version you edited, as If-Match or as `version`")
    return await _update(session, spec, user_id, record_id, data, expected, None)


async def _update(
    session: AsyncSession,
    spec: DimensionSpec,
    user_id: int,
    record_id: uuid.UUID,
    data: schemas.RecordCreate | schemas.RecordUpdate,
    expected: int,
    version: int | None,
) -> dict[str, Any]:
    """Store `data` over the record if it is still at version `expected`, and give it `version`
    (default: the next one)."""
    model = spec.model
    values = _fields(spec, data)
    if data.date is not None:
        values.update(date=data.date, day_log_id=await day_log_id(session, user_id, data.date))
    at_version = (model.id == record_id, model.user_id == user_id, model.version == expected, live(model))
    # What the edited version counted in its day's total: the update below changes the row only
    # when it is still at that version, so these are the values it replaces.
    before = (
        await session.execute(select(model.date, getattr(model, spec.measure)).where(*at_version))
    ).first()
    changed = await session.execute(
        update(model)
        .where(*at_version)
        .values(**values, version=version or model.version + 1, updated_at=utcnow())
    )
    if before is None or changed.rowcount != 1:
        current = await find(session, spec, user_id, record_id)  # 404 when it is not the user's
        raise VersionConflict(
            f"The record is at version {current['version']}, not {expected}: apply your change to "
            "`current` and retry",
            spec.out.model_validate(current).model_dump(mode="json"),
        )
    day, value = before
    moved = [(day, -float(value or 0), -1), (data.date or day, _measured(spec, values), 1)]
    await _count(session, spec, user_id, moved)
    return await find(session, spec, user_id, record_id)


async def remove(session: AsyncSession, spec: DimensionSpec, user_id: int, record_id: uuid.UUID) -> bool:
    """Delete the record, leaving its tombstone; False when it was deleted already (a repeat
    changes nothing, and is no error: the client's queue may replay it)."""
    model = spec.model
    mine = (model.id == record_id, model.user_id == user_id)
    found = (
        await session.execute(select(model.date, getattr(model, spec.measure)).where(*mine, live(model)))
    ).first()
    now = utcnow()
    deleted = await session.execute(
        update(model)
        .where(*mine, live(model))
        .values(deleted_at=now, updated_at=now, version=model.version + 1)
    )
    if found is None or deleted.rowcount != 1:  # a concurrent delete of it takes nothing off twice
        if (await session.execute(select(model.id).where(*mine))).first() is not None:
            return False
        raise NotFound(f"No {spec.name.value} record {record_id}")
    day, value = found
    await _count(session, spec, user_id, [(day, -float(value or 0), -1)])
    return True


def listing(spec: DimensionSpec, user_id: int, since: dt.date | None, until: dt.date | None) -> Select[Any]:
    model = spec.model
    statement = select(*spec.columns).where(model.user_id == user_id, live(model))
    if since is not None:
        statement = statement.where(model.date >= since)
    if until is not None:
        statement = statement.where(model.date <= until)
    return statement.order_by(model.date.desc(), model.created_at.desc(), model.id)


def by_dimension(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows of DAY_RECORDS (in created_at, id order) per dimension, each with its own fields.
    A row whose dimension is None (an outer join that found no record) is skipped."""
    day: dict[str, list[dict[str, Any]]] = {name: [] for name in DIMENSIONS}
    for row in rows:
        if (name := row["dimension"]) is not None:
            day[name].append({key: row[key] for key in _KEYS[name]})
    return day


_KEYS = {name: spec.keys for name, spec in DIMENSIONS.items()}


async def of_day(db: Executor, user_id: int, day: dt.date) -> dict[str, list[dict[str, Any]]]:
    """Every dimension's records of one day, oldest first, in one query."""
    return by_dimension(await fetch_all(db, _DAY_QUERY, {"user_id": user_id, "date": day}))
