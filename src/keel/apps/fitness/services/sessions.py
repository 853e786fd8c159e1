"""Workout sessions: the archive of what the phone recorded offline.

A session is stored at most once per user, keyed by the phone's `client_session_id`, however
often and however concurrently it is uploaded: duplicates are found by a read first (so their
time series never travel to the database again) and, for uploads racing each other, by the
unique index, with an insert that skips rows already there.
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    bindparam,
    delete,
    func,
    insert,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness import device_schemas
from keel.apps.fitness.models import SessionTombstone, Training, UserStat, WorkoutSession
from keel.apps.fitness.schemas import MAX_BATCH, SessionStatus, WorkoutSessionIn
from keel.apps.fitness.services import stats
from keel.core import changes as change_feed
from keel.core.changes import ChangePage, ChangesRequest, Source
from keel.core.db import Autocommit, Executor, fetch_all, utcnow
from keel.core.errors import NotFound, Unprocessable
from keel.core.pagination import PageRequest, fetch_page
from keel.core.sql import by_dialect, insert_skipping_duplicates

# The phone's clock may run a little ahead of the server's. Further ahead, the session is
# refused for now: the one rejection that the same session may pass later.
CLOCK_SKEW = timedelta(minutes=5)
FUTURE_START = "start_time is in the future"
# How far the stated duration may exceed end - start. It is moving time, so it may be any amount
# shorter (an interval workout's pauses), but longer only by the app's rounding.
DURATION_TOLERANCE_SECONDS = 5
DURATION_TOLERANCE_SHARE = 0.02

_ITEM = TypeAdapter(WorkoutSessionIn)
_sessions = WorkoutSession.__table__
# The two fields that carry a device's numbers: checked and stored as the JSON text they came in.
_SUMMARY, _SERIES = "metrics_summary", "time_series_data"
# The name the spec's sequence diagram gives the client id, taken as the same field.
_CLIENT_ID, _CLIENT_ID_ALIAS = "client_session_id", "client_session_uuid"


# A session's fields, each still the JSON text it arrived as: reading a batch this way costs a
# scan of its bytes, with no Python object made for any of its points.
Fields = dict[str, msgspec.Raw]
_BATCH_LENGTH = msgspec.Meta(min_length=1, max_length=MAX_BATCH)


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    sessions: Annotated[list[Fields], _BATCH_LENGTH]


class _BatchOfAnything(msgspec.Struct, forbid_unknown_fields=True):
    sessions: Annotated[list[msgspec.Raw], _BATCH_LENGTH]


_BATCH = msgspec.json.Decoder(_Batch)
_BATCH_OF_ANYTHING = msgspec.json.Decoder(_BatchOfAnything)
_FIELDS = msgspec.json.Decoder(Fields)


def read_batch(body: bytes) -> list[Fields | None]:
    """The batch's sessions as their fields (None for an item that is not an object: it is
    rejected on its own); a batch that is not `{"sessions": [...]}` with 1 to 500 items is 422."""
    try:
        return list(_BATCH.decode(body).sessions)
    # First: msgspec's ValidationError is a kind of DecodeError.
    except msgspec.ValidationError:
        pass  # the batch, or only some of its items, is malformed: read it again to tell which
    except msgspec.DecodeError as error:
        raise Unprocessable(f"body is not valid JSON: {error}") from None
    try:
        return [read_session(item) for item in _BATCH_OF_ANYTHING.decode(body).sessions]
    except msgspec.ValidationError as error:
        raise Unprocessable(device_schemas.explain(error, "body")) from None


def read_session(text: bytes | msgspec.Raw) -> Fields | None:
    """One session's fields, from JSON text known to be valid; None when it is not an object."""
    try:
        return _FIELDS.decode(text)
    except msgspec.ValidationError:
        return None


@dataclass
class Outcome:
    results: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    # The user's totals after counting what was created (None when nothing was).
    stats: UserStat | None = None

    def add(
        self,
        client_id: str | None,
        status: SessionStatus,
        session_id: Any = None,
        reason: str | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.results.append(
            {
                "client_session_id": client_id,
                "status": status,
                "id": session_id,
                "reason": reason,
                "retryable": reason == FUTURE_START,
                "warnings": warnings or [],
            }
        )

    def count(self, status: SessionStatus) -> int:
        return sum(1 for result in self.results if result["status"] is status)


def _first_error(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]


def _client_id(fields: Fields | None) -> str | None:
    if fields is not None and _CLIENT_ID not in fields and _CLIENT_ID_ALIAS in fields:
        fields[_CLIENT_ID] = fields.pop(_CLIENT_ID_ALIAS)
    value = msgspec.json.decode(fields[_CLIENT_ID]) if fields and _CLIENT_ID in fields else None
    return value.strip() if isinstance(value, str) and value.strip() else None


# A session checked: the row to store and what the server did not understand in it, or why it
# is rejected.
Checked = tuple[dict[str, Any] | None, str | None, list[str]]


def check(fields: Fields | None, now: datetime) -> Checked:
    """Rejects only what leaves a session unusable (issue 12): no client id, missing or
    unparseable times, end before start, a negative or impossible total, a duration longer than
    the span, the caps. Its metrics never reject it: see device_schemas.warnings_for."""
    if fields is None:
        return None, "a session must be a JSON object", []
    summary, series = fields.pop(_SUMMARY, b"{}"), fields.pop(_SERIES, b"[]")
    try:
        item = _ITEM.validate_python({key: msgspec.json.decode(text) for key, text in fields.items()})
    except ValidationError as error:
        return None, _first_error(error), []
    start, end = item.start_time, item.end_time
    if end < start:
        return None, "end_time is before start_time", []
    if start > now + CLOCK_SKEW:
        return None, FUTURE_START, []
    span = (end - start).total_seconds()
    if item.duration_seconds - span > max(DURATION_TOLERANCE_SECONDS, DURATION_TOLERANCE_SHARE * span):
        return (
            None,
            f"duration_seconds is {item.duration_seconds}, longer than end_time - start_time "
            f"({span:g} seconds)",
            [],
        )
    try:
        warnings = device_schemas.warnings_for(item.device_type, summary, series)
    except device_schemas.Unusable as error:
        return None, str(error), []
    row = item.model_dump() | {"start_time": start, "end_time": end, _SUMMARY: msgspec.json.decode(summary)}
    # Stored as the text it came in, already checked: 60,000 points are never re-encoded.
    return row | {_SERIES: orjson.Fragment(bytes(series))}, None, warnings


async def store(session: AsyncSession, reader: Executor, user_id: int, items: list[Fields | None]) -> Outcome:
    """Check every item on its own (as `read_batch` gives them), store the new ones, and count
    them in the user's totals. The checks read through `reader`, outside the transaction (the
    route's autocommit; the seed, which has no other, its session): a batch with nothing new (a
    phone sending it again) never opens one."""
    now = utcnow()
    parsed = [(fields, _client_id(fields)) for fields in items]
    # What is stored already, or was and has been deleted, is a duplicate whatever it holds:
    # found first, it skips the per-point checks, which are most of the work for a phone
    # sending a batch again. A copy stored meanwhile by a racing upload is caught by the insert.
    known = await _known(reader, user_id, {cid for _fields, cid in parsed if cid})
    stored = {cid: session_id for cid, (session_id, _deleted_at) in known.items()}
    checked = [(cid, *((None, None, []) if cid in known else check(fields, now))) for fields, cid in parsed]
    trainings = {
        row["training_id"]
        for _cid, row, _reason, _warnings in checked
        if row is not None and row["training_id"]
    }
    known_trainings = (
        set((await reader.execute(select(Training.id).where(Training.id.in_(trainings)))).scalars())
        if trainings
        else set()
    )

    outcome = Outcome()
    fresh: dict[str, dict[str, Any]] = {}
    for client_id, row, reason, warnings in checked:
        if row is None and reason is None:
            deleted_at = known[client_id][1] if client_id else None
            # Still `duplicate`: a phone that knows three answers stops sending it either way.
            gone = [f"deleted at {deleted_at.isoformat()}: not stored again"] if deleted_at else []
            outcome.add(client_id, SessionStatus.duplicate, warnings=gone)
        elif row is None:
            outcome.add(client_id, SessionStatus.rejected, reason=reason)
        elif row["training_id"] is not None and row["training_id"] not in known_trainings:
            outcome.add(
                row["client_session_id"],
                SessionStatus.rejected,
                reason=f"unknown training_id {row['training_id']}",
            )
        elif row["client_session_id"] in fresh:
            outcome.add(row["client_session_id"], SessionStatus.duplicate, warnings=warnings)
        else:
            fresh[row["client_session_id"]] = row | {
                "id": uuid.uuid4(),
                "user_id": user_id,
                "created_at": now,
            }
            outcome.add(row["client_session_id"], SessionStatus.created, warnings=warnings)

    if fresh:
        inserted = await _insert_skipping_stored(session, [fresh[key] for key in sorted(fresh)])
        # An upload racing this one may have stored some of them first: those are duplicates.
        raced = await _known(session, user_id, fresh.keys() - inserted.keys())
        stored |= inserted | {cid: session_id for cid, (session_id, _deleted_at) in raced.items()}
        outcome.created = [row for key, row in fresh.items() if key in inserted]
    created_keys = {row["client_session_id"] for row in outcome.created}
    for result in outcome.results:
        key = result["client_session_id"]
        if result["status"] is SessionStatus.created and key not in created_keys:
            result["status"] = SessionStatus.duplicate
        if result["status"] is not SessionStatus.rejected:
            result["id"] = stored.get(key)
    if outcome.created:
        outcome.stats = await stats.apply(session, user_id, outcome.created, sign=1)
    return outcome


async def stats_of(reader: Autocommit, user_id: int) -> Row[Any]:
    return (await reader.execute(select(UserStat).where(UserStat.user_id == user_id))).one()


_tombstones = SessionTombstone.__table__
# A client id's server id, and when it was deleted (NULL while it is stored). The tombstones come
# first: a UNION's columns take their types from its first SELECT.
_KNOWN_IN = union_all(
    select(_tombstones.c.client_session_id, _tombstones.c.id, _tombstones.c.deleted_at).where(
        _tombstones.c.user_id == bindparam("user_id"),
        _tombstones.c.client_session_id.in_(bindparam("client_ids", expanding=True)),
    ),
    select(_sessions.c.client_session_id, _sessions.c.id, null()).where(
        _sessions.c.user_id == bindparam("user_id"),
        _sessions.c.client_session_id.in_(bindparam("client_ids", expanding=True)),
    ),
)
# On PostgreSQL the client ids travel as one array, so the statement is the same for any number
# of ids (compiled once, run precompiled from autocommit), and each id is looked up on its own
# in the (user_id, client_session_id) indexes, by a subquery per id (NULL when not there).
# Matched by `= ANY` or joined to the array, the planner read every session of the user
# instead: a replay of 100 ids cost 30 ms of PostgreSQL once the user had 12,000 sessions.
_WANTED = (
    func.unnest(bindparam("client_ids", type_=ARRAY(String)))
    .table_valued("client_session_id")
    .render_derived(name="wanted")
)


def _one_per_id(column: Any, table: Any) -> Any:
    return (
        select(column)
        .where(
            table.c.user_id == bindparam("user_id"), table.c.client_session_id == _WANTED.c.client_session_id
        )
        .scalar_subquery()
    )


_KNOWN_AS_ARRAY = select(
    _WANTED.c.client_session_id,
    func.coalesce(_one_per_id(_sessions.c.id, _sessions), _one_per_id(_tombstones.c.id, _tombstones)).label(
        "id"
    ),
    _one_per_id(_tombstones.c.deleted_at, _tombstones).label("deleted_at"),
)


async def _known(
    db: Executor, user_id: int, client_ids: Collection[str]
) -> dict[str, tuple[uuid.UUID, datetime | None]]:
    """The client ids stored or deleted: each one's server id and when it was deleted (None
    while stored)."""
    if not client_ids:
        return {}
    statement = by_dialect(db, {"postgresql": _KNOWN_AS_ARRAY}, default=_KNOWN_IN)
    rows = await fetch_all(db, statement, {"user_id": user_id, "client_ids": list(client_ids)})
    return {row["client_session_id"]: (row["id"], row["deleted_at"]) for row in rows if row["id"] is not None}


async def _insert_skipping_stored(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, uuid.UUID]:
    """Insert, skipping rows whose (user, client id) is already stored; the client and server
    ids of the rows inserted. In key order, so two uploads of overlapping batches lock the same
    keys in the same order and never deadlock."""
    statement = insert_skipping_duplicates(session, _sessions, ["user_id", "client_session_id"])
    inserted = await session.execute(statement.returning(_sessions.c.client_session_id, _sessions.c.id), rows)
    return {client_id: session_id for client_id, session_id in inserted}


_LIST_COLUMNS = [column for column in _sessions.columns if column.key != "time_series_data"]


def _either_id(table: Any, session_id: str) -> ColumnElement[bool]:
    """The row whose server id or client id `session_id` is."""
    by_client_id = table.c.client_session_id == session_id
    try:
        return (table.c.id == uuid.UUID(session_id)) | by_client_id
    except ValueError:
        return by_client_id


async def find(session: AsyncSession, user_id: int, session_id: str, *, with_series: bool) -> dict[str, Any]:
    """One of the user's sessions by its server id or the phone's client id; another user's
    session is not found either way."""
    columns = list(_sessions.columns) if with_series else _LIST_COLUMNS
    condition = _either_id(_sessions, session_id)
    row = (
        (await session.execute(select(*columns).where(_sessions.c.user_id == user_id, condition)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("Session not found")
    return dict(row)


async def remove(session: AsyncSession, user_id: int, session_id: str) -> None:
    """Delete a session, leaving its tombstone, and take its numbers back out of the user's
    totals. Deleting it again succeeds (a phone replaying its offline deletes); a session that
    never was is 404."""
    try:
        found = await find(session, user_id, session_id, with_series=False)
    except NotFound:
        tombstone = select(_tombstones.c.id).where(
            _tombstones.c.user_id == user_id, _either_id(_tombstones, session_id)
        )
        if (await session.execute(tombstone)).first() is not None:
            return
        raise
    deleted = await session.execute(delete(WorkoutSession).where(WorkoutSession.id == found["id"]))
    if deleted.rowcount != 1:  # a concurrent delete of the same session reverses nothing twice
        return
    # One left by a copy stored again after retention forgot it is replaced: deleted again now.
    key = {"user_id": user_id, "client_session_id": found["client_session_id"]}
    await session.execute(delete(_tombstones).filter_by(**key))
    await session.execute(insert(_tombstones).values(**key, id=found["id"], deleted_at=utcnow()))
    await stats.apply(session, user_id, [found], sign=-1)


def listing(
    *,
    user_id: int | None,
    device_type: str | None,
    source_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    """Sessions without their time series, newest first: one user's (`user_id`) or, for the
    back office, everyone's; each filter left None matches any session."""
    conditions = []
    if user_id is not None:
        conditions.append(_sessions.c.user_id == user_id)
    if device_type is not None:
        conditions.append(_sessions.c.device_type == device_type)
    if source_type is not None:
        conditions.append(_sessions.c.source_type == source_type)
    if since is not None:
        conditions.append(_sessions.c.start_time >= since)
    if until is not None:
        conditions.append(_sessions.c.start_time < until)
    return select(*_LIST_COLUMNS).where(*conditions).order_by(_sessions.c.start_time.desc(), _sessions.c.id)


def by_id(session_id: uuid.UUID, *, with_series: bool) -> Select[Any]:
    """The session with this server id, whoever it belongs to: for the back office, which
    answers for every user (the phone's client ids are unique per user only)."""
    columns = list(_sessions.columns) if with_series else _LIST_COLUMNS
    return select(*columns).where(_sessions.c.id == session_id)


async def history(
    session: AsyncSession,
    user_id: int,
    page: PageRequest,
    *,
    device_type: str | None,
    source_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[dict[str, Any]], int]:
    statement = listing(
        user_id=user_id, device_type=device_type, source_type=source_type, since=since, until=until
    )
    rows, total = await fetch_page(session, statement, page)
    return [dict(row._mapping) for row in rows], total


def _stored_change(row: Any) -> dict[str, Any]:
    return dict(row) | {"deleted": False, "deleted_at": None, "updated_at": row["created_at"]}


def _deleted_change(row: Any) -> dict[str, Any]:
    return dict(row) | {"deleted": True, "updated_at": row["deleted_at"]}


async def changes(reader: Autocommit, user_id: int, request: ChangesRequest) -> ChangePage[dict[str, Any]]:
    """What changed in the user's sessions after the request's position, oldest first: the
    sessions stored since (they are never edited) and the tombstones of those deleted."""
    stored = Source(
        select(*_LIST_COLUMNS).where(_sessions.c.user_id == user_id),
        changed_at=_sessions.c.created_at,
        id=_sessions.c.id,
        item=_stored_change,
        id_of=uuid.UUID,
    )
    deleted = Source(
        select(
            _tombstones.c.id, _tombstones.c.client_session_id, _tombstones.c.user_id, _tombstones.c.deleted_at
        ).where(_tombstones.c.user_id == user_id),
        changed_at=_tombstones.c.deleted_at,
        id=_tombstones.c.id,
        item=_deleted_change,
        id_of=uuid.UUID,
    )
    return await change_feed.read(reader, [stored, deleted], request, utcnow())
