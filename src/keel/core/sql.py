"""SQL that each dialect spells its own way, behind one expression."""

from typing import Any

from sqlalchemy import Boolean
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


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


def insert_ignoring_duplicates(table: Any, dialect: str) -> Any:
    """An INSERT that does nothing when a unique key already holds the row (get-or-create
    without a failed statement, which would abort a PostgreSQL transaction)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    # Not INSERT IGNORE: that would also turn bad values into warnings.
    statement = mysql.insert(table)
    primary = next(iter(table.primary_key.columns))
    return statement.on_duplicate_key_update({primary.name: primary})
