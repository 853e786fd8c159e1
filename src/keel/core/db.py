"""Databases: an engine per app, the session a request owns, portable column types, and the
retry that turns write conflicts into either success or a clear 409."""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

import asyncpg
import orjson
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import JSON, DateTime, Dialect, Executable, MetaData, Result, Select, Text, event, text
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import TextualSelect
from sqlalchemy.types import TypeDecorator, TypeEngine
from starlette.requests import HTTPConnection

from keel.core import encoding, sqlite_connection
from keel.core.errors import Conflict

# Constraint names that read well in migrations and error messages, the same on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONColumn = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class JSONDocument(TypeDecorator[Any]):
    """JSON stored as plain text: for documents only ever stored and returned whole, never
    queried inside. The database neither parses nor validates it (PostgreSQL's jsonb made
    storing a 20,000-point series several times slower). Give it `orjson.Fragment(text)` to
    store JSON text already checked without encoding it again."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(mysql.LONGTEXT() if dialect.name == "mysql" else Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else _json_dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else orjson.loads(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC everywhere (SQLite and MySQL keep no zone), always read back aware."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        # MySQL's DATETIME drops the fraction; DATETIME(6) keeps what the app wrote and answered.
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


TYPE_ANNOTATION_MAP: dict[Any, Any] = {datetime: UTCDateTime(), dict[str, Any]: JSONColumn}


# Connections older than this are closed rather than used again (server-side limits, leaks).
_RECYCLE_SECONDS = 1800


class Database:
    """One app's database: the engine for transactions and a session factory, and a second
    engine whose connections run in autocommit, for reads and single-statement writes.

    A read of one statement then costs one round trip instead of three (BEGIN, SELECT,
    COMMIT); it has its own pool so no connection's mode is switched back and forth.
    """

    def __init__(self, url: str, *, pool_size: int = 20, max_overflow: int = 10):
        self.url = url
        # JSON columns through orjson: a workout's 20,000-point series encodes ten times faster.
        options: dict[str, Any] = {
            "pool_pre_ping": False,
            "json_serializer": _json_dumps,
            "json_deserializer": orjson.loads,
        }
        if not url.startswith("sqlite"):
            options.update(pool_size=pool_size, max_overflow=max_overflow, pool_recycle=_RECYCLE_SECONDS)
        if url.startswith("mysql"):
            url = url if "charset=" in url else f"{url}{'&' if '?' in url else '?'}charset=utf8mb4"
            # READ COMMITTED: conditional updates see the latest committed stock, as on PostgreSQL.
            options["isolation_level"] = "READ COMMITTED"
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(url, **options)
        self.autocommit_engine: AsyncEngine = create_async_engine(
            url, **{**options, "isolation_level": "AUTOCOMMIT"}
        )
        if url.startswith("sqlite"):
            for engine in (self.engine, self.autocommit_engine):
                event.listen(engine.sync_engine, "connect", sqlite_connection.configure)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads, and single statements that are atomic by themselves: no BEGIN/COMMIT round trips.
        self.autocommit = Autocommit(self.autocommit_engine, keep=pool_size, recycle=_RECYCLE_SECONDS)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        async with self.autocommit_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.autocommit.close()
        await self.engine.dispose()
        await self.autocommit_engine.dispose()


def _json_dumps(value: Any) -> str:
    return encoding.dumps(value).decode()


def request_database(request: HTTPConnection) -> Database:
    return request.app.state.database


_SESSION = "keel_session"
_TRANSACTIONAL = "keel_transactional"


async def _request_session(request: Request) -> AsyncSession:
    """The request's session, opened on first use; `TransactionalRoute` ends it."""
    state = request.scope["state"]
    if not state.get(_TRANSACTIONAL):
        raise RuntimeError(
            f"{request.url.path}: DbSession needs a router with route_class=TransactionalRoute"
        )
    session = state.get(_SESSION)
    if session is None:
        session = state[_SESSION] = request_database(request).sessionmaker()
    return session


DbSession = Annotated[AsyncSession, Depends(_request_session)]

_AFTER_COMMIT = "keel_after_commit"
AfterCommitCallback = Callable[[], Awaitable[None]]
_after_commit_log = logging.getLogger("keel.db")


def after_commit(request: Request, callback: AfterCommitCallback) -> None:
    """Run `callback` once the request's transaction has committed (mail, events, jobs): never
    for a request that raised, so nothing leaves for work that was rolled back. Callbacks run in
    order before the response is sent; one that fails is logged, and the response stands."""
    state = request.scope["state"]
    if not state.get(_TRANSACTIONAL):
        raise RuntimeError(
            f"{request.url.path}: after_commit needs a router with route_class=TransactionalRoute"
        )
    state.setdefault(_AFTER_COMMIT, []).append(callback)


async def _run_after_commit(callbacks: list[AfterCommitCallback]) -> None:
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # the transaction stands; a side effect that failed is not the client's error
            _after_commit_log.exception("after-commit callback failed", extra={"callback": repr(callback)})


class _OrjsonRequest(Request):
    """A request whose JSON body is parsed by orjson: on the multi-megabyte batches a phone
    uploads after a week offline, the standard library's parser was most of the request's time.
    orjson is also stricter (no NaN or Infinity, no lone surrogates): those are 422 too."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


_GUARD = "keel_answer_guard"


class Answered(Exception):
    """Raised by a dependency that already holds the request's answer (the repeat of a request
    that runs once): TransactionalRoute sends it as it is, and runs and commits nothing."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


class AnswerGuard(Protocol):
    """Told how a request ended (core/idempotency.py's claims): `record` gets the answer in the
    request's transaction, just before the commit; `release` runs after a rollback."""

    async def record(self, session: AsyncSession, response: Response) -> None: ...

    async def release(self) -> None: ...


def guard_answer(request: Request, guard: AnswerGuard) -> None:
    state = request.scope["state"]
    if not state.get(_TRANSACTIONAL):
        raise RuntimeError(
            f"{request.url.path}: guard_answer needs a router with route_class=TransactionalRoute"
        )
    state[_GUARD] = guard


class TransactionalRoute(APIRoute):
    """The request owns the transaction: commit when the route returned, roll back when it raised.

    The commit comes after the response body is built and before it is sent, so a failed commit
    is answered as an error, not after a success the client already saw. Done here rather than
    in a yield dependency, whose exit stack and shielded cancel scope cost more than a query.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_in_transaction(request: Request) -> Response:
            request = _OrjsonRequest(request.scope, request.receive)
            state = request.scope.setdefault("state", {})
            state[_TRANSACTIONAL] = True
            failed = True
            try:
                response = await handle(request)
                if (guard := state.get(_GUARD)) is not None:
                    await guard.record(await _request_session(request), response)
                # A session that never began a transaction (a route that may write, and this
                # time did not) has nothing to commit; committing would begin and end one.
                if (session := state.get(_SESSION)) is not None and session.in_transaction():
                    await session.commit()
                failed = False
            except Answered as answered:
                failed = False
                return answered.response
            finally:
                # Taken in every case, so callbacks of a request that raised are dropped.
                callbacks = state.pop(_AFTER_COMMIT, [])
                if (session := state.pop(_SESSION, None)) is not None:
                    await session.close()  # rolls back whatever was not committed
                # Only now: until the rollback, this request's transaction may hold the row.
                if failed and (guard := state.pop(_GUARD, None)) is not None:
                    await guard.release()
            # Reached only after a commit; the connection is back in the pool by now.
            await _run_after_commit(callbacks)
            return response

        return handle_in_transaction


# What fetch_all runs: a select, SQL text that declares its columns (`text(...).columns(...)`),
# or a write of one statement with RETURNING (an INSERT, UPDATE or DELETE), whose rows come
# back as a select's do.
Selecting = Select[Any] | TextualSelect | UpdateBase


class Autocommit:
    """Runs statements in autocommit, each committed by itself: for reads, and for single
    statements that are atomic by themselves.

    A plain object rather than a yield dependency: FastAPI wraps those in an exit stack and a
    shielded cancel scope, which cost more than the query on the hottest read paths. Results
    from the async engine are buffered, so the connection can go back before rows are read.

    On asyncpg, up to `keep` connections stay checked out of the engine's pool between
    statements, ready for the next one: a checkout and checkin through SQLAlchemy's pool cost
    about 100 microseconds of CPU, as much as the rest of a primary-key read, twice per request
    (the signed-in user, then the route's read). One whose statement raised goes back to the
    pool, or is thrown away when the error was not the server's answer to the statement (a lost
    connection, a cancelled request); one kept for `recycle` seconds goes back too.
    """

    def __init__(self, engine: AsyncEngine, *, keep: int = 0, recycle: float = _RECYCLE_SECONDS):
        self.engine = engine
        self._direct = engine.dialect.driver == "asyncpg"
        self._prepared: dict[Executable, _Prepared | None] = {}
        self._keep = keep if self._direct else 0
        self._recycle = recycle
        self._idle: list[tuple[AsyncConnection, float]] = []

    async def _checkout(self) -> tuple[AsyncConnection, float]:
        if self._idle:
            return self._idle.pop()
        return await self.engine.connect(), time.monotonic()

    async def _checkin(self, connection: AsyncConnection, since: float, error: BaseException | None) -> None:
        if error is not None and not connection.invalidated and not _answered_by_server(error):
            # Dead (the server restarted) or stopped mid-statement (a cancelled request): as
            # it is, the pool would hand it out again, and a driver's error, raised outside
            # SQLAlchemy, would never tell it so.
            await connection.invalidate()
        elif error is not None or len(self._idle) >= self._keep or time.monotonic() - since > self._recycle:
            await connection.close()
        else:
            self._idle.append((connection, since))

    async def close(self) -> None:
        """Give the kept connections back to the engine's pool (before it is disposed)."""
        idle, self._idle = self._idle, []
        for connection, _since in idle:
            await connection.close()

    async def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Result[Any]:
        async with _Lease(self) as connection:
            return await connection.execute(statement, parameters)

    async def fetch_all(self, statement: Selecting, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows as dicts keyed like `statement.selected_columns`.

        On asyncpg the statement is compiled once and run on the driver's connection (from the
        same pool), with each type's own bind and result processing: half the CPU of a full
        SQLAlchemy execution, which matters on the hottest reads. A write goes through
        SQLAlchemy's execution: it applies the columns' Python-side defaults and raises the
        errors the handlers and services expect (IntegrityError, write conflicts).
        """
        known_unpreparable = statement in self._prepared and self._prepared[statement] is None
        if not self._direct or known_unpreparable or isinstance(statement, UpdateBase):
            return [dict(row) for row in (await self.execute(statement, parameters)).mappings()]
        async with _Lease(self) as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            if (prepared := self._prepared.get(statement)) is None:
                prepared = self._prepared[statement] = await _Prepared.of(
                    statement, self.engine.dialect, driver
                )
                if prepared is None:
                    return [dict(row) for row in (await connection.execute(statement, parameters)).mappings()]
            records = await driver.fetch(prepared.sql, *prepared.arguments(parameters))
        return [prepared.row(record) for record in records]


class _Lease:
    """One statement's hold on an `Autocommit` connection; on leaving, the connection is kept,
    given back or thrown away, by what the statement raised. A class, not a generator-based
    context manager: this runs twice per request."""

    __slots__ = ("_autocommit", "_connection", "_since")

    def __init__(self, autocommit: Autocommit):
        self._autocommit = autocommit

    async def __aenter__(self) -> AsyncConnection:
        self._connection, self._since = await self._autocommit._checkout()
        return self._connection

    async def __aexit__(
        self, _kind: type[BaseException] | None, error: BaseException | None, _tb: Any
    ) -> None:
        await self._autocommit._checkin(self._connection, self._since, error)


def _answered_by_server(error: BaseException) -> bool:
    """An error the database sent back about a statement, on a connection that is still fine."""
    if isinstance(error, DBAPIError):  # through SQLAlchemy, which tells a lost connection
        return not error.connection_invalidated
    # From the driver itself: the server's answer, unless it was the connection ending.
    return isinstance(error, asyncpg.PostgresError) and not isinstance(error, asyncpg.PostgresConnectionError)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A statement compiled for the driver, with the processing SQLAlchemy would apply."""

    sql: str
    names: tuple[str, ...]
    binds: tuple[Callable[[Any], Any] | None, ...]
    keys: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    async def of(cls, statement: Selecting, dialect: Any, driver: Any) -> "_Prepared | None":
        compiled = statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string or compiled.positiontup is None:
            return None  # needs SQLAlchemy's own rendering at execute time (e.g. expanding IN)
        names = tuple(compiled.positiontup)
        columns = list(statement.selected_columns)
        # The result processors want each column's database type, as the driver reports it.
        attributes = (await driver.prepare(compiled.string)).get_attributes()
        return cls(
            sql=compiled.string,
            names=names,
            binds=tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
            keys=tuple(column.key for column in columns),
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, attribute.type.oid)
                for column, attribute in zip(columns, attributes, strict=True)
            ),
        )

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        return [
            parameters[name] if bind is None else bind(parameters[name])
            for name, bind in zip(self.names, self.binds, strict=True)
        ]

    def row(self, record: Any) -> dict[str, Any]:
        return {
            key: value if result is None else result(value)
            for key, value, result in zip(self.keys, record, self.results, strict=True)
        }


async def fetch_all(db: "Executor", statement: Selecting, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as dicts from autocommit (fast on asyncpg) or from the request's transaction.

    A plain write is one statement with RETURNING, run here in autocommit where it is the
    request's only write: atomic by itself, one round trip, and its answer is what was stored.
    In a transaction the same write costs BEGIN and COMMIT too, two round trips that on a
    loaded machine cost as much as the statement (see ARCHITECTURE.md)."""
    if isinstance(db, Autocommit):
        return await db.fetch_all(statement, parameters)
    return [dict(row) for row in (await db.execute(statement, parameters)).mappings()]


async def fetch_one(
    db: "Executor", statement: Selecting, parameters: dict[str, Any]
) -> dict[str, Any] | None:
    rows = await fetch_all(db, statement, parameters)
    return rows[0] if rows else None


# Dependencies are `async def` even with nothing to await: FastAPI runs a plain `def` in a
# worker thread, a hop that costs more than the work.
async def _request_database(request: Request) -> Database:
    return request_database(request)


AppDatabase = Annotated[Database, Depends(_request_database)]


async def _request_autocommit(request: Request) -> Autocommit:
    return request_database(request).autocommit


# For routes that only read: each statement sees the data committed when it starts.
ReadDb = Annotated[Autocommit, Depends(_request_autocommit)]

# What read queries run on: autocommit, or the request's session when a read is part of a write.
Executor = Autocommit | AsyncSession


# PostgreSQL serialization failure and deadlock; MySQL/MariaDB deadlock and lock wait timeout;
# TiDB's write conflicts in optimistic mode.
_PG_CONFLICT_STATES = {"40001", "40P01"}
_MYSQL_CONFLICT_CODES = {1213, 1205, 9007, 8002, 8022, 8028}


def is_write_conflict(error: DBAPIError) -> bool:
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in _PG_CONFLICT_STATES:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_CONFLICT_CODES:
        return True
    return "database is locked" in str(orig)


T = TypeVar("T")


async def run_transaction(
    session: AsyncSession,
    work: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    conflict_detail: str = "The data changed while we were writing it; please retry",
) -> T:
    """Run `work` and commit, re-running it from a clean transaction on a write conflict.

    The whole transaction is re-run because MySQL and TiDB roll it all back on a deadlock.
    After `attempts` conflicts the caller gets a 409, never a 500.
    """
    for attempt in range(attempts):
        try:
            result = await work()
            await session.commit()
            return result
        except DBAPIError as error:
            await session.rollback()
            if not is_write_conflict(error):
                raise
            if attempt + 1 < attempts:
                await asyncio.sleep(random.uniform(0.005, 0.02) * (2**attempt))
        except BaseException:
            await session.rollback()
            raise
    raise Conflict(conflict_detail)
