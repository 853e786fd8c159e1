"""Daily heartbeat rollups (issue 17 item 9): per device and UTC day, the heartbeat count and
the min, average and max of cpu, memory and temperature, kept long after the raw heartbeats
are pruned.

A day is rolled up once it is over, by the deployment's "heartbeat_rollup" sweep, from the
first day after the last one rolled up (or the oldest heartbeat) to yesterday. Each day is
one transaction that replaces the day's rows, so running a day again gives the same rows,
never twice the count. Days already rolled up are not recomputed: their raw rows may be
partly pruned by then. The settings refuse a heartbeat retention shorter than a day plus the
sweep's interval, so a day's rows are all there when its rollup runs.
"""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from keel.apps.badge.models import Heartbeat, HeartbeatDaily
from keel.core.db import Database, utcnow

_beats = Heartbeat.__table__
_METRICS = (
    ("cpu", _beats.c.cpu_usage),
    ("memory", _beats.c.memory_usage),
    ("temperature", _beats.c.temperature),
)
_COLUMNS = ["device_id", "day", "count"] + [
    f"{name}_{fn}" for name, _ in _METRICS for fn in ("min", "avg", "max")
]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def roll_up_day(connection: AsyncConnection, day: date) -> int:
    """Replace the day's rollups with ones computed from its heartbeats; how many devices."""
    start = _start_of(day)
    aggregates = [
        aggregate(column) for _name, column in _METRICS for aggregate in (func.min, func.avg, func.max)
    ]
    rows = (
        select(_beats.c.device_id, literal(day, Date()), func.count(), *aggregates)
        .where(_beats.c.received_at >= start, _beats.c.received_at < start + timedelta(days=1))
        .group_by(_beats.c.device_id)
    )
    await connection.execute(delete(HeartbeatDaily).where(HeartbeatDaily.day == day))
    result = await connection.execute(insert(HeartbeatDaily).from_select(_COLUMNS, rows))
    return result.rowcount


async def _first_day_due(database: Database) -> date | None:
    async with database.engine.connect() as connection:
        last = await connection.scalar(select(func.max(HeartbeatDaily.day)))
        oldest = select(func.min(_beats.c.received_at))
        if last is not None:
            oldest = oldest.where(_beats.c.received_at >= _start_of(last + timedelta(days=1)))
        first = await connection.scalar(oldest)
    return None if first is None else first.date()


async def sweep(database: Database) -> int:
    """Roll up every finished day not rolled up yet, a transaction each; how many days."""
    day, today = await _first_day_due(database), utcnow().date()
    done = 0
    while day is not None and day < today:
        async with database.engine.begin() as connection:
            await roll_up_day(connection, day)
        day += timedelta(days=1)
        done += 1
    return done
