"""The running totals (UserStat): changed once per stored session, in the same transaction as
the session itself, and reversed when a session is deleted.

Level curve: reaching level L takes 50 x L x (L - 1) XP in total, so level 2 needs 100 XP,
level 3 300, level 4 600: each level costs 100 XP more than the one before.
Streak: the number of consecutive days, in the user's time zone, that end on the day of the
most recent workout and each have at least one workout.
"""

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import User, UserStat, WorkoutSession


def level_for(total_xp: int) -> int:
    level = int((1 + math.sqrt(1 + 0.08 * max(total_xp, 0))) / 2)
    # Guard the float: step to the exact level of the curve.
    while 50 * (level + 1) * level <= total_xp:
        level += 1
    while level > 1 and 50 * level * (level - 1) > total_xp:
        level -= 1
    return max(level, 1)


@dataclass(frozen=True, slots=True)
class Totals:
    distance_km: float
    duration_seconds: int
    calories: float
    xp: int

    @classmethod
    def of(cls, sessions: list[dict[str, Any]]) -> "Totals":
        return cls(
            distance_km=sum(s["total_distance_meters"] for s in sessions) / 1000,
            duration_seconds=sum(s["duration_seconds"] for s in sessions),
            calories=sum(s["total_calories"] for s in sessions),
            xp=sum(s["xp_earned"] for s in sessions),
        )


async def apply(session: AsyncSession, user_id: int, totals: Totals, *, sign: int) -> UserStat:
    """Add (sign 1) or take away (sign -1) sessions' totals, then refresh level, last workout
    and streak. The stats row is locked, so concurrent uploads apply one after the other."""
    stats = await session.get_one(UserStat, user_id, with_for_update=True, populate_existing=True)
    stats.total_distance_km = max(0.0, stats.total_distance_km + sign * totals.distance_km)
    stats.total_duration_seconds = max(0, stats.total_duration_seconds + sign * totals.duration_seconds)
    stats.total_calories = max(0.0, stats.total_calories + sign * totals.calories)
    stats.total_xp = max(0, stats.total_xp + sign * totals.xp)
    stats.current_level = level_for(stats.total_xp)
    last = (
        await session.execute(
            select(func.max(WorkoutSession.start_time)).where(WorkoutSession.user_id == user_id)
        )
    ).scalar()
    stats.last_workout_date = last
    stats.workout_streak_days = 0 if last is None else await _streak(session, user_id, last)
    await session.flush()
    return stats


async def _streak(session: AsyncSession, user_id: int, last: datetime) -> int:
    zone = ZoneInfo((await session.execute(select(User.timezone).where(User.id == user_id))).scalar_one())
    latest = last.astimezone(zone).date()
    # Only the days that can still belong to the streak are read, a week first (most streaks
    # are shorter), four times as many days each time the streak fills the window: every
    # upload reads this, and a user who trains daily has hundreds of sessions in a season.
    window = 8
    while True:
        since = last - timedelta(days=window + 1)
        starts = (
            await session.execute(
                select(WorkoutSession.start_time).where(
                    WorkoutSession.user_id == user_id, WorkoutSession.start_time >= since
                )
            )
        ).scalars()
        days = {start.astimezone(zone).date() for start in starts}
        streak = _run_ending(latest, days)
        if streak < window:
            return streak
        window *= 4


def _run_ending(latest: date, days: set[date]) -> int:
    streak = 0
    while latest - timedelta(days=streak) in days:
        streak += 1
    return streak
