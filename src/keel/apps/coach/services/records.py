"""The five dimensions' records: idempotent create with the client's id, versioned edits, and
the day log each record belongs to."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach import schemas
from keel.apps.coach.models import DayLog, Meal, Reading, Sleep, WorkNote, Workout
from keel.apps.coach.schemas import Dimension
from keel.core.db import Executor, fetch_all, utcnow
from keel.core.errors import Conflict, NotFound, PreconditionRequired, Unprocessable
from keel.core.sql import insert_skipping_duplicates


@dataclass(frozen=True)
class DimensionSpec:
    name: Dimension
    model: Any
    create: type[schemas.RecordCreate]
    update: type[schemas.RecordUpdate]
    out: type[schemas.RecordOut]

    @property
    def columns(self) -> list[Any]:
        """What a client reads: everything but the owner and the day log's internal id."""
        return [c for c in self.model.__table__.c if c.key not in ("user_id", "day_log_id")]

    def of_day(self) -> Select[Any]:
        """The user's records of one day, built once (a day log read runs it for each dimension)."""
        model = self.model
        return (
            select(*self.columns)
            .where(model.user_id == bindparam("user_id"), model.date == bindparam("date"))
            .order_by(model.created_at, model.id)
        )


DIMENSIONS: dict[str, DimensionSpec] = {
    spec.name.value: spec
    for spec in (
        DimensionSpec(
            Dimension.workout, Workout, schemas.WorkoutCreate, schemas.WorkoutUpdate, schemas.WorkoutOut
        ),
        DimensionSpec(Dimension.meal, Meal, schemas.MealCreate, schemas.MealUpdate, schemas.MealOut),
        DimensionSpec(Dimension.sleep, Sleep, schemas.SleepCreate, schemas.SleepUpdate, schemas.SleepOut),
        DimensionSpec(Dimension.work, WorkNote, schemas.WorkCreate, schemas.WorkUpdate, schemas.WorkOut),
        DimensionSpec(
            Dimension.reading, Reading, schemas.ReadingCreate, schemas.ReadingUpdate, schemas.ReadingOut
        ),
    )
}
_DAY_QUERIES = {name: spec.of_day() for name, spec in DIMENSIONS.items()}


def unknown_dimension(name: str) -> NotFound:
    return NotFound(f"Unknown dimension {name!r}; the dimensions are: {', '.join(DIMENSIONS)}")


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
    values = data.model_dump(exclude={"id", "date", "version"})
    if spec.name is Dimension.sleep:
        values["duration_minutes"] = round((data.wake_time - data.bed_time).total_seconds() / 60)  # type: ignore[attr-defined]
    return values


async def day_log_id(session: AsyncSession, user_id: int, day: dt.date) -> int:
    """The id of the user's log for `day`, made on first use (concurrent first uses make one)."""
    found = (
        await session.execute(select(DayLog.id).where(DayLog.user_id == user_id, DayLog.date == day))
    ).scalar_one_or_none()
    if found is not None:
        return found
    dialect = session.bind.dialect.name
    await session.execute(
        insert_skipping_duplicates(dialect, DayLog.__table__, ["user_id", "date"]).values(
            user_id=user_id, date=day, status="open", version=1, updated_at=utcnow()
        )
    )
    return (
        await session.execute(select(DayLog.id).where(DayLog.user_id == user_id, DayLog.date == day))
    ).scalar_one()


async def find(db: Executor, spec: DimensionSpec, user_id: int, record_id: uuid.UUID) -> dict[str, Any]:
    model = spec.model
    row = (
        await db.execute(select(*spec.columns).where(model.id == record_id, model.user_id == user_id))
    ).first()
    if row is None:
        raise NotFound(f"No {spec.name.value} record {record_id}")
    return dict(row._mapping)


async def create(
    session: AsyncSession, spec: DimensionSpec, user_id: int, timezone: str, data: schemas.RecordCreate
) -> tuple[dict[str, Any], bool]:
    """The stored record and whether it is new: a repeat with the same client id returns the
    record as it is stored, whatever the repeat's body says."""
    model = spec.model
    if data.id is not None:
        owner = (await session.execute(select(model.user_id).where(model.id == data.id))).scalar_one_or_none()
        if owner == user_id:
            return await find(session, spec, user_id, data.id), False
        if owner is not None:
            raise Conflict("This record id is already in use; generate a new one")
    day = _record_date(spec, data, timezone)
    now = utcnow()
    record = model(
        id=data.id or uuid.uuid4(),
        user_id=user_id,
        day_log_id=await day_log_id(session, user_id, day),
        date=day,
        version=1,
        created_at=now,
        updated_at=now,
        **_fields(spec, data),
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError:
        # The same id, sent twice at once: the other request stored it. The client's retry
        # will find it.
        raise Conflict("This record is being created by another request; retry") from None
    # Every column was set above: no need to read the row back (times as they are read: UTC).
    return {column.key: _as_read(getattr(record, column.key)) for column in spec.columns}, True


def _as_read(value: Any) -> Any:
    return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else value


async def replace(
    session: AsyncSession,
    spec: DimensionSpec,
    user_id: int,
    record_id: uuid.UUID,
    data: schemas.RecordUpdate,
    if_match: int | None,
) -> dict[str, Any]:
    """Replace the record's fields if it is still at the version the client edited: a stale
    edit (409) changes nothing. A date left out keeps the record's date."""
    if data.version is not None and if_match is not None and data.version != if_match:
        raise Unprocessable("If-Match and version disagree", loc=("body", "version"))
    expected = data.version if data.version is not None else if_match
    if expected is None:
        raise PreconditionRequired("Send the version you edited, as If-Match or as `version`")
    model = spec.model
    values = _fields(spec, data)
    if data.date is not None:
        values.update(date=data.date, day_log_id=await day_log_id(session, user_id, data.date))
    changed = await session.execute(
        update(model)
        .where(model.id == record_id, model.user_id == user_id, model.version == expected)
        .values(**values, version=model.version + 1, updated_at=utcnow())
    )
    if changed.rowcount != 1:
        current = await find(session, spec, user_id, record_id)  # 404 when it is not the user's
        raise Conflict(
            f"The record is at version {current['version']}, not {expected}: fetch it, apply your change, and retry"
        )
    return await find(session, spec, user_id, record_id)


async def remove(session: AsyncSession, spec: DimensionSpec, user_id: int, record_id: uuid.UUID) -> None:
    model = spec.model
    deleted = await session.execute(delete(model).where(model.id == record_id, model.user_id == user_id))
    if deleted.rowcount != 1:
        raise NotFound(f"No {spec.name.value} record {record_id}")


def listing(spec: DimensionSpec, user_id: int, since: dt.date | None, until: dt.date | None) -> Select[Any]:
    model = spec.model
    statement = select(*spec.columns).where(model.user_id == user_id)
    if since is not None:
        statement = statement.where(model.date >= since)
    if until is not None:
        statement = statement.where(model.date <= until)
    return statement.order_by(model.date.desc(), model.created_at.desc(), model.id)


async def of_day(db: Executor, user_id: int, day: dt.date) -> dict[str, list[dict[str, Any]]]:
    """Every dimension's records of one day."""
    parameters = {"user_id": user_id, "date": day}
    return {name: await fetch_all(db, query, parameters) for name, query in _DAY_QUERIES.items()}
