"""Write conflicts: recognised from each real driver's error, retried, and at last a 409."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.db import Database, is_write_conflict, run_transaction
from keel.core.errors import Conflict


async def _provoke_deadlock(database: Database) -> DBAPIError:
    """Two transactions take two rows in opposite orders; the server kills one of them."""
    async with database.engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE IF NOT EXISTS keel_deadlock_probe (id INTEGER PRIMARY KEY, n INTEGER)")
        )
        await connection.execute(text("DELETE FROM keel_deadlock_probe"))
        await connection.execute(text("INSERT INTO keel_deadlock_probe (id, n) VALUES (1, 0), (2, 0)"))
    both_hold_their_first_row = asyncio.Barrier(2)

    async def lock(first: int, second: int) -> None:
        async with database.engine.begin() as connection:
            await connection.execute(
                text("UPDATE keel_deadlock_probe SET n = n + 1 WHERE id = :id"), {"id": first}
            )
            await both_hold_their_first_row.wait()
            await connection.execute(
                text("UPDATE keel_deadlock_probe SET n = n + 1 WHERE id = :id"), {"id": second}
            )

    results = await asyncio.gather(lock(1, 2), lock(2, 1), return_exceptions=True)
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP TABLE keel_deadlock_probe"))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], DBAPIError), errors[0]
    return errors[0]


async def test_a_real_deadlock_is_recognised_as_a_write_conflict(
    shop_database: Database, dialect: str
) -> None:
    if dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time and cannot deadlock this way")
    assert is_write_conflict(await _provoke_deadlock(shop_database))


class _Conflict(Exception):
    sqlstate = "40P01"


def _conflict() -> DBAPIError:
    return DBAPIError("UPDATE ...", {}, _Conflict("deadlock detected"))


async def test_conflicts_are_retried_then_answered_409(shop_database: Database) -> None:
    calls = 0

    async def always_conflicts() -> None:
        nonlocal calls
        calls += 1
        raise _conflict()

    async with AsyncSession(shop_database.engine) as session:
        with pytest.raises(Conflict):
            await run_transaction(session, always_conflicts, attempts=3)
    assert calls == 3


async def test_a_transient_conflict_is_retried_until_it_succeeds(shop_database: Database) -> None:
    calls = 0

    async def conflicts_once() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise _conflict()
        return "done"

    async with AsyncSession(shop_database.engine) as session:
        assert await run_transaction(session, conflicts_once, attempts=3) == "done"
    assert calls == 2


async def test_other_database_errors_are_not_retried(shop_database: Database) -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise DBAPIError("SELECT", {}, Exception("syntax error"))

    async with AsyncSession(shop_database.engine) as session:
        with pytest.raises(DBAPIError):
            await run_transaction(session, broken, attempts=3)
    assert calls == 1
