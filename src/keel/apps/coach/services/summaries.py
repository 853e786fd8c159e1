"""The AI's stats summaries, which cost a model call each: written only for a period with
records, never for one that ended before the account existed, and only when asked for: by the
client (`?summary=true`, against the AI rate limit and the daily quota) or by the nightly job,
for the week and month that just ended where the user lives. Browsing past periods reads the
summaries already written and starts nothing."""

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import DayTotal, StatsSummary, User
from keel.apps.coach.schemas import TaskType
from keel.apps.coach.services import ai, stats
from keel.apps.coach.services.records import today
from keel.core.db import Database, utcnow
from keel.core.sql import insert_skipping_duplicates
from keel.settings import Settings

log = logging.getLogger("keel.coach.summaries")

# A summary of a period still running is written again once it is this old.
SUMMARY_FRESH_FOR = dt.timedelta(hours=6)
# The nightly job looks at users with records this recently: the month just ended and a bit.
ACTIVE_DAYS = 62


def joined_on(user: Any) -> dt.date:
    """The day the account was made, where the user lives."""
    return user.created_at.astimezone(ZoneInfo(user.timezone)).date()


def _worth_writing(body: dict[str, Any], period: stats.Period, joined: dt.date) -> bool:
    has_records = any(dimension["records"] for dimension in body["dimensions"].values())
    return has_records and period.end >= joined


async def for_request(
    session: AsyncSession,
    request: Request,
    user: Any,
    period: stats.Period,
    body: dict[str, Any],
    cached: stats.CachedSummary | None,
    *,
    asked: bool,
    charge: Callable[[], Awaitable[None]],
    daily_quota: int,
) -> tuple[str | None, uuid.UUID | None]:
    """The period's summary and the task writing it. Asked for (`asked`) and worth writing, a
    summary is started when there is none yet, or when the period is still running and the
    last one is older than SUMMARY_FRESH_FOR; `charge` spends the AI rate limit first."""
    stored = (cached.summary, cached.task_id) if cached else (None, None)
    if not asked or not _worth_writing(body, period, joined_on(user)):
        return stored
    now = today(user.timezone)
    running = period.start <= now <= period.end
    if cached is not None and not (running and cached.created_at < utcnow() - SUMMARY_FRESH_FOR):
        return stored
    await charge()
    task = await _summarise(session, request, user.id, period, now, daily_quota, refresh=cached is not None)
    return stored[0], task["id"]


async def _summarise(
    session: AsyncSession,
    request: Request | None,
    user_id: int,
    period: stats.Period,
    now: dt.date,
    daily_quota: int | None,
    *,
    refresh: bool,
) -> dict[str, Any]:
    """The period's task (one per period: made, or run again), and its cache row pointing at it;
    an old summary stays until the new one is written."""
    given = {"period": period.kind, "start": period.start.isoformat(), "today": now.isoformat()}
    task = await ai.submit(
        session, request, user_id, TaskType.stats_summary, given, daily_quota=daily_quota, refresh=refresh
    )
    await session.execute(
        insert_skipping_duplicates(session, StatsSummary.__table__, ["user_id", "period", "start"]).values(
            user_id=user_id, period=period.kind, start=period.start, task_id=task["id"], created_at=utcnow()
        )
    )
    await session.execute(
        update(StatsSummary)
        .where(
            StatsSummary.user_id == user_id,
            StatsSummary.period == period.kind,
            StatsSummary.start == period.start,
        )
        .values(task_id=task["id"], created_at=utcnow())
    )
    return task


# --- the nightly job ---------------------------------------------------------------------------

_ACTIVE_USERS = select(User.id, User.timezone, User.created_at).order_by(User.id)


async def summarise_ended_periods(database: Database, settings: Settings) -> None:
    """For each user with recent records, the week and the month that ended before their today,
    when they have records and no summary yet: at most two tasks per user and period, however
    often it runs (the tasks are one per period). The quota is not spent: it bounds what
    clients start."""
    since = utcnow().date() - dt.timedelta(days=ACTIVE_DAYS)
    recent = exists().where(DayTotal.user_id == User.id, DayTotal.date >= since)
    async with database.sessionmaker() as session:
        users = (await session.execute(_ACTIVE_USERS.where(recent))).all()
    for user in users:
        async with database.sessionmaker() as session, session.begin():
            await _summarise_user(session, user)


async def _summarise_user(session: AsyncSession, user: Any) -> None:
    now = today(user.timezone)
    for kind in ("weekly", "monthly"):
        period = stats.Period.containing(kind, now).previous()
        body, cached = await stats.read(session, user.id, period, now)
        if cached is None and _worth_writing(body, period, joined_on(user)):
            await _summarise(session, None, user.id, period, now, None, refresh=False)
            log.info("stats summary queued", extra={"user_id": user.id, "period": kind})
