"""The daily AI quota: each task a user starts (not a repeat answered by its stored task) is
counted in `ai_usage` for the UTC day, in the request's transaction; past
KEEL_COACH_AI_DAILY_QUOTA the request is 429 and rolls back, its count with it. Kept in the
database, not in the rate limiter's buckets, so every process of a deployment counts the same
spend, and a limiter that fails open (Redis down) cannot lift it."""

import datetime as dt
import math

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import AIUsage
from keel.core.db import utcnow
from keel.core.errors import TooManyRequests
from keel.core.sql import insert_adding


async def spend(session: AsyncSession, user_id: int, quota: int) -> None:
    """Count one task for today, or 429 (with Retry-After: until the next UTC day) when that
    would pass `quota`. The upsert locks the row, so two concurrent spends count both."""
    now = utcnow()
    table = AIUsage.__table__
    await session.execute(
        insert_adding(session, table, ["user_id", "day"], ["tasks"]).values(
            user_id=user_id, day=now.date(), tasks=1
        )
    )
    used = await session.scalar(
        select(AIUsage.tasks).where(AIUsage.user_id == user_id, AIUsage.day == now.date())
    )
    if used is not None and used > quota:
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        retry_after = max(1, math.ceil((midnight - now).total_seconds()))
        raise TooManyRequests(
            f"Daily AI quota of {quota} tasks used up; it renews at 00:00 UTC",
            headers={"Retry-After": str(retry_after)},
        )
