"""The running totals (UserStat): changed once per stored session, in the same transaction as
the session itself, and reversed when a session is deleted.

Level curve: reaching level L takes 50 x L x (L - 1) XP in total, so level 2 needs 100 XP,
level 3 300, level 4 600: each level costs 100 XP more than the one before.
Streak: the number of consecutive days, in the user's time zone, that end on the day of the
most recent workout and each have at least one workout. The days with a workout are kept in
`workout_days` (one row per day), so a streak of a year reads 365 rows, not every session.

The app may overwrite the totals (PATCH /users/me/stats, spec 4.2): they are the phone's, as of
that moment (`set_at`), and already hold every session it had recorded. A session that started
before then and reaches the server later is stored but not added again; a later one is added as
usual. The level never falls below the one the app set, and a streak that runs back to the day
the app's streak was given for continues the app's count rather than the server's.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import User, UserStat, WorkoutDay, WorkoutSession
from keel.core.sql import insert_skipping_duplicates


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


async def apply(
    session: AsyncSession, user_id: int, sessions: list[dict[str, Any]], *, sign: int
) -> UserStat:
    """Add (sign 1) or take away (sign -1) sessions' totals and days, then refresh level, last
    workout and streak. The stats row is locked first, so concurrent uploads and deletes for one
    user apply one after the other (and each sees the sessions the one before committed)."""
    stats, zone = await _locked(session, user_id)
    days = {row["start_time"].astimezone(zone).date() for row in sessions}
    # Every read and write below runs before the row is changed: changed first, it would be
    # flushed before each of them, one more round trip each while the row is locked.
    if sign > 0:
        await _add_days(session, user_id, days)
        # The app's overwrite already counted what it had recorded before it.
        sessions = [row for row in sessions if stats.set_at is None or row["start_time"] >= stats.set_at]
    else:
        # A deleted session leaves the totals whether the server or the app's overwrite counted it.
        await _drop_days_left_empty(session, user_id, zone, days)
    last, streak = await _last_and_streak(session, stats, zone)
    totals = Totals.of(sessions)
    stats.total_distance_km = max(0.0, stats.total_distance_km + sign * totals.distance_km)
    stats.total_duration_seconds = max(0, stats.total_duration_seconds + sign * totals.duration_seconds)
    stats.total_calories = max(0.0, stats.total_calories + sign * totals.calories)
    stats.total_xp = max(0, stats.total_xp + sign * totals.xp)
    stats.current_level = max(level_for(stats.total_xp), stats.set_level or 1)
    stats.last_workout_date, stats.workout_streak_days = last, streak
    await session.flush()
    return stats


async def overwrite(session: AsyncSession, user_id: int, changes: dict[str, Any], now: datetime) -> None:
    """The app's totals replace the server's, as of `now`: what later sessions build on."""
    stats, _zone = await _locked(session, user_id)
    for field, value in changes.items():
        setattr(stats, field, value)
    stats.set_at = now
    if "current_level" in changes:
        stats.set_level = changes["current_level"]
    if "workout_streak_days" in changes or "last_workout_date" in changes:
        stats.set_streak_days, stats.set_last_workout_at = stats.workout_streak_days, stats.last_workout_date
    await session.flush()


async def rebuild_days(session: AsyncSession, user_id: int) -> None:
    """The user's workout days again from their sessions, and the streak: after a change of
    time zone, which moves sessions near midnight onto other days."""
    stats, zone = await _locked(session, user_id)
    await session.execute(delete(WorkoutDay).where(WorkoutDay.user_id == user_id))
    starts = await session.execute(select(WorkoutSession.start_time).where(WorkoutSession.user_id == user_id))
    await _add_days(session, user_id, {start.astimezone(zone).date() for start in starts.scalars()})
    stats.last_workout_date, stats.workout_streak_days = await _last_and_streak(session, stats, zone)
    await session.flush()


async def _locked(session: AsyncSession, user_id: int) -> tuple[UserStat, ZoneInfo]:
    """The user's stats row, locked until the transaction ends, and the user's time zone."""
    statement = (
        select(UserStat, User.timezone)
        .join(User, User.id == UserStat.user_id)
        .where(UserStat.user_id == user_id)
        .with_for_update(of=UserStat)
        .execution_options(populate_existing=True)
    )
    stats, timezone = (await session.execute(statement)).one()
    return stats, ZoneInfo(timezone)


async def _add_days(session: AsyncSession, user_id: int, days: set[date]) -> None:
    if days:
        statement = insert_skipping_duplicates(session, WorkoutDay.__table__, ["user_id", "day"])
        await session.execute(statement, [{"user_id": user_id, "day": day} for day in sorted(days)])


async def _drop_days_left_empty(session: AsyncSession, user_id: int, zone: ZoneInfo, days: set[date]) -> None:
    for day in days:
        # The day's bounds in UTC, as sessions are stored: midnight to midnight where the user is.
        begins = datetime.combine(day, time(), zone).astimezone(UTC)
        ends = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
        any_left = (
            select(WorkoutSession.id)
            .where(
                WorkoutSession.user_id == user_id,
                WorkoutSession.start_time >= begins,
                WorkoutSession.start_time < ends,
            )
            .exists()
        )
        await session.execute(
            delete(WorkoutDay).where(WorkoutDay.user_id == user_id, WorkoutDay.day == day, ~any_left)
        )


def _streak_given_through(stats: UserStat, zone: ZoneInfo) -> date | None:
    """The day the app's streak ends on: its last workout's (or, without one, the overwrite's);
    None when the app never gave a streak."""
    if stats.set_streak_days is None or stats.set_at is None:
        return None
    return (stats.set_last_workout_at or stats.set_at).astimezone(zone).date()


async def _last_and_streak(
    session: AsyncSession, stats: UserStat, zone: ZoneInfo
) -> tuple[datetime | None, int]:
    """When the latest workout started, and the streak that ends on its day."""
    latest = (
        await session.execute(
            select(func.max(WorkoutSession.start_time)).where(WorkoutSession.user_id == stats.user_id)
        )
    ).scalar()
    given_through = _streak_given_through(stats, zone)
    if given_through is not None and (latest is None or latest.astimezone(zone).date() <= given_through):
        # The app's word stands until a later workout moves past it.
        last = max((at for at in (latest, stats.set_last_workout_at) if at is not None), default=None)
        return last, stats.set_streak_days or 0
    if latest is None:
        return None, 0
    return latest, await _streak(
        session, stats.user_id, latest.astimezone(zone).date(), given_through, stats.set_streak_days or 0
    )


async def _streak(
    session: AsyncSession, user_id: int, latest: date, given_through: date | None, given: int
) -> int:
    """The run of consecutive days ending on `latest`, read newest first a week at a time (most
    streaks are shorter), four times as many days each time the run goes on. A run that reaches
    `given_through`, the day the app gave its streak for, goes on with the app's count (`given`)."""
    streak, chunk = 0, 8
    while True:
        days = (
            await session.execute(
                select(WorkoutDay.day)
                .where(WorkoutDay.user_id == user_id, WorkoutDay.day <= latest - timedelta(days=streak))
                .order_by(WorkoutDay.day.desc())
                .limit(chunk)
            )
        ).scalars()
        read = 0
        for day in days:
            read += 1
            expected = latest - timedelta(days=streak)
            if expected == given_through:
                return streak + given
            if day != expected:
                return streak
            streak += 1
        if read < chunk:
            return streak + given if latest - timedelta(days=streak) == given_through else streak
        chunk *= 4
