"""Queue numbers: from 1 each (UTC) day at each store, each given out once, with no gaps.

The number comes from a counter row per store and day. Taking one locks that row until the
booking's transaction ends, so concurrent bookings at one store take turns and each sees the
number the previous one committed; a booking that fails rolls its number back with it.

- PostgreSQL and SQLite: one upsert that adds 1 to the stored number (`insert_adding`, `INSERT
  ... ON CONFLICT DO UPDATE ... RETURNING`).
- MySQL/MariaDB: the day's row is made first in autocommit (`ON DUPLICATE KEY` as a no-op),
  then incremented in the transaction. Doing both in one transaction would have InnoDB take a
  shared lock on the existing key and then ask for an exclusive one: two bookings would
  deadlock.
"""

import uuid
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import QueueCounter
from keel.core.db import Database
from keel.core.errors import NotFound
from keel.core.sql import dialect_of, insert_adding

_STORE_NOT_FOUND = "Store not found"


async def take_number(session: AsyncSession, database: Database, store_id: uuid.UUID, day: date) -> int:
    """The next number at the store today; 404 when there is no such store (the counter's
    foreign key says so, without a read before the lock)."""
    try:
        if dialect_of(database) == "mysql":
            return await _take_mysql(session, database, store_id, day)
        return await _take_upsert(session, store_id, day)
    except IntegrityError:
        raise NotFound(_STORE_NOT_FOUND) from None


async def _take_upsert(session: AsyncSession, store_id: uuid.UUID, day: date) -> int:
    statement = (
        insert_adding(session, QueueCounter.__table__, ["store_id", "day"], ["last_number"])
        .values(store_id=store_id, day=day, last_number=1)
        .returning(QueueCounter.last_number)
    )
    return (await session.execute(statement)).scalar_one()


async def _take_mysql(session: AsyncSession, database: Database, store_id: uuid.UUID, day: date) -> int:
    ensure = (
        mysql.insert(QueueCounter)
        .values(store_id=store_id, day=day, last_number=0)
        .on_duplicate_key_update(last_number=QueueCounter.last_number)
    )
    await database.autocommit.execute(ensure)
    key = (QueueCounter.store_id == store_id, QueueCounter.day == day)
    await session.execute(update(QueueCounter).where(*key).values(last_number=QueueCounter.last_number + 1))
    return (await session.execute(select(QueueCounter.last_number).where(*key))).scalar_one()
