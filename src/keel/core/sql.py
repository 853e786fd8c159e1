"""SQL that each dialect spells its own way, behind one expression."""

from typing import Any

from sqlalchemy import Boolean, Insert, Table, insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


def insert_skipping_duplicates(dialect: str, table: Table, key: list[str]) -> Insert:
    """An INSERT that skips rows whose `key` (a unique constraint's columns) is already stored,
    with no error (a failed statement would abort a PostgreSQL transaction): ON CONFLICT DO
    NOTHING, or MySQL's INSERT IGNORE (any unique key). IGNORE would also turn a bad value into
    a warning, so give it only values the schemas have checked. With RETURNING, only the rows
    inserted come back, on every dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
    return insert(table).prefix_with("IGNORE")


def insert_adding(dialect: str, table: Table, key: list[str], added: list[str]) -> Insert:
    """An INSERT that, where a row with the same `key` (the primary key or a unique constraint's
    columns) is stored already, adds the new values of the `added` columns to the stored ones:
    running totals, kept in one atomic statement. ON CONFLICT DO UPDATE, or MySQL's ON
    DUPLICATE KEY UPDATE, which locks the row it finds exclusively at once (a separate insert,
    then update, would take a shared lock first, and two writers would deadlock)."""
    if dialect in ("postgresql", "sqlite"):
        upsert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        return upsert.on_conflict_do_update(
            index_elements=key, set_={name: table.c[name] + upsert.excluded[name] for name in added}
        )
    mine = mysql.insert(table)
    return mine.on_duplicate_key_update({name: table.c[name] + mine.inserted[name] for name in added})


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
