"""SQL that each dialect spells its own way, behind one expression.

The one place that asks which dialect a handle speaks (`dialect_of`): callers build their
statements from the functions here (or pick among their own spellings with `by_dialect`), and
branch on a dialect's name only where the whole way of doing the work differs (a
PostgreSQL-only one-statement path), never to spell a statement."""

import functools
import weakref
from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Boolean, Connection, Dialect, Insert, Table, insert, text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from keel.core.db import Autocommit, Database

T = TypeVar("T")
Handle = Database | Autocommit | AsyncSession | AsyncConnection | AsyncEngine


def dialect_of(db: Handle) -> str:
    """ "postgresql", "sqlite" or "mysql" (MariaDB and TiDB too), for any database handle keel passes."""
    return _dialect(db).name


def _dialect(db: Handle) -> Dialect:
    match db:
        case Database() | Autocommit():
            return db.engine.dialect
        case AsyncSession():
            return db.get_bind().dialect
        case _:
            return db.dialect


# TiDB speaks MySQL's protocol, and SQLAlchemy's mysql dialect takes it for MySQL: only the
# server's version string tells ("8.0.11-TiDB-v7.5.1"). Asked once per engine (its dialect).
_SERVER_VERSION = text("SELECT VERSION()")
_tidb_dialects: "weakref.WeakKeyDictionary[Dialect, bool]" = weakref.WeakKeyDictionary()


def says_tidb(version: str) -> bool:
    return "tidb" in version.lower()


def connection_is_tidb(connection: Connection) -> bool:
    """For migrations, which run on a plain connection."""
    return connection.dialect.name == "mysql" and says_tidb(connection.execute(_SERVER_VERSION).scalar_one())


async def is_tidb(db: Autocommit | AsyncSession) -> bool:
    dialect = _dialect(db)
    if dialect.name != "mysql":
        return False
    known = _tidb_dialects.get(dialect)
    if known is None:
        known = _tidb_dialects[dialect] = says_tidb((await db.execute(_SERVER_VERSION)).scalar_one())
    return known


def by_dialect(db: Handle, spellings: Mapping[str, T], *, default: T) -> T:
    """The handle's dialect's own spelling of something, or the one every other dialect uses."""
    return spellings.get(dialect_of(db), default)


def insert_skipping_duplicates(db: Handle, table: Table, key: list[str]) -> Insert:
    """An INSERT that skips rows whose `key` (a unique constraint's columns) is already stored,
    with no error (a failed statement would abort a PostgreSQL transaction): ON CONFLICT DO
    NOTHING, or MySQL's INSERT IGNORE (any unique key). IGNORE would also turn a bad value into
    a warning, so give it only values the schemas have checked. With RETURNING, only the rows
    inserted come back, on every dialect."""
    match dialect_of(db):
        case "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
        case "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
        case _:
            return insert(table).prefix_with("IGNORE")


def insert_adding(db: Handle, table: Table, key: list[str], added: list[str]) -> Insert:
    """An INSERT that, where a row with the same `key` (the primary key or a unique constraint's
    columns) is stored already, adds the new values of the `added` columns to the stored ones:
    running totals and counters, kept in one atomic statement. ON CONFLICT DO UPDATE, or MySQL's
    ON DUPLICATE KEY UPDATE, which locks the row it finds exclusively at once (a separate
    insert, then update, would take a shared lock first, and two writers would deadlock)."""
    return _insert_adding(dialect_of(db), table, tuple(key), tuple(added))


@functools.lru_cache(maxsize=256)
def _insert_adding(dialect: str, table: Table, key: tuple[str, ...], added: tuple[str, ...]) -> Insert:
    # Built once per table: `excluded` and `inserted` make a new alias of the table at each
    # access, a cost hot counters (a queue's numbers, a channel's events) paid on every write.
    # Constructs are immutable, so every caller's `.values(...)` makes its own copy.
    match dialect:
        case "postgresql" | "sqlite":
            upsert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
            excluded = upsert.excluded
            return upsert.on_conflict_do_update(
                index_elements=list(key), set_={name: table.c[name] + excluded[name] for name in added}
            )
        case _:
            mine = mysql.insert(table)
            inserted = mine.inserted
            return mine.on_duplicate_key_update({name: table.c[name] + inserted[name] for name in added})


class json_array_contains(FunctionElement[bool]):
    """True when a JSON array column holds the given string: `["bike", "rower"]` holds "bike"."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any], value: str):
        super().__init__(column, value)


@compiles(json_array_contains, "postgresql")
def _postgresql(element: json_array_contains, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    return f"({compiler.process(column, **kw)} @> jsonb_build_array(CAST({compiler.process(value, **kw)} AS TEXT)))"


@compiles(json_array_contains, "mysql")
def _mysql(element: json_array_contains, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    return f"JSON_CONTAINS({compiler.process(column, **kw)}, JSON_QUOTE({compiler.process(value, **kw)}))"


@compiles(json_array_contains, "sqlite")
def _sqlite(element: json_array_contains, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({compiler.process(column, **kw)}) WHERE json_each.value = {compiler.process(value, **kw)})"
