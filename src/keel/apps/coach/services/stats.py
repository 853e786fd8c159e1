"""Weekly and monthly stats: per-dimension totals and averages, days on target, streaks, and
the change against the previous period, from one query of the day totals the record writes
keep (`DayTotal`)."""

import datetime as dt
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, case, func, literal_column, select

from keel.apps.coach.models import DayTotal, StatsSummary, Target
from keel.apps.coach.schemas import Targets
from keel.apps.coach.services import preferences, scoring
from keel.apps.coach.services.scoring import DayTotals
from keel.core.db import Executor, fetch_all

UNITS = {"sleep": "hours", "workout": "minutes", "meal": "kcal", "work": "minutes", "reading": "minutes"}


def _per_day(dimension: str) -> tuple[Any, Any]:
    # Literals, not bound values: the precompiled read binds only the named parameters.
    mine = DayTotal.dimension == literal_column(f"'{dimension}'")
    zero = literal_column("0")
    return (
        func.coalesce(func.sum(case((mine, DayTotal.value))), zero).label(f"{dimension}_value"),
        func.coalesce(func.sum(case((mine, DayTotal.records))), zero).label(f"{dimension}_records"),
    )


# Each day's totals (as the record writes keep them, sleep in minutes: hours below), pivoted to
# a row per day: Python reads a few rows instead of one per dimension and day.
_DAILY = (
    select(
        DayTotal.user_id,
        DayTotal.date,
        *(column for dimension in UNITS for column in _per_day(dimension)),
    )
    .where(
        DayTotal.user_id == bindparam("user_id"),
        DayTotal.date.between(bindparam("start"), bindparam("end")),
    )
    .group_by(DayTotal.user_id, DayTotal.date)
    .subquery("daily")
)
_DAILY_ROWS = select(_DAILY)

# What a stats read needs, in one round trip: the targets and the period's cached AI summary
# (when there is one), beside each day's sums (one row with NULL sums when there are none).
_TARGET_NAMES = tuple(Targets.model_fields)
_SUMMARY_JOIN = (
    (StatsSummary.user_id == Target.user_id)
    & (StatsSummary.period == bindparam("period"))
    & (StatsSummary.start == bindparam("period_start"))
)
_STATS_READ = (
    select(
        *(getattr(Target, name) for name in _TARGET_NAMES),
        StatsSummary.task_id.label("summary_task_id"),
        StatsSummary.summary.label("summary"),
        StatsSummary.created_at.label("summary_created_at"),
        *(column for column in _DAILY.c if column.key != "user_id"),
    )
    .select_from(Target)
    .outerjoin(StatsSummary, _SUMMARY_JOIN)
    .outerjoin(_DAILY, _DAILY.c.user_id == Target.user_id)
    .where(Target.user_id == bindparam("user_id"))
)


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # weekly, monthly
    start: dt.date
    end: dt.date

    @classmethod
    def containing(cls, kind: str, day: dt.date) -> "Period":
        if kind == "weekly":
            start = day - dt.timedelta(days=day.weekday())  # Monday
            return cls(kind, start, start + dt.timedelta(days=6))
        start = day.replace(day=1)
        following = (start + dt.timedelta(days=32)).replace(day=1)
        return cls(kind, start, following - dt.timedelta(days=1))

    def previous(self) -> "Period":
        return Period.containing(self.kind, self.start - dt.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class _Day:
    __slots__ = ("records", "values")

    def __init__(self) -> None:
        self.values: dict[str, float] = dict.fromkeys(UNITS, 0.0)
        self.records: dict[str, int] = dict.fromkeys(UNITS, 0)

    @property
    def meals(self) -> int:
        return self.records["meal"]

    def totals(self) -> DayTotals:
        return DayTotals(
            sleep_hours=self.values["sleep"],
            workout_minutes=self.values["workout"],
            calories=self.values["meal"],
            meals=self.meals,
            focus_minutes=self.values["work"],
            reading_minutes=self.values["reading"],
        )


# The columns of a day's row, named once: a stats read turns up to 62 rows into days.
_COLUMNS = tuple((dimension, f"{dimension}_value", f"{dimension}_records") for dimension in UNITS)


def _days(rows: list[dict[str, Any]]) -> dict[dt.date, _Day]:
    days: dict[dt.date, _Day] = {}
    for row in rows:
        if row["date"] is None:
            continue  # the outer join of a period without records
        day = days[row["date"]] = _Day()
        values, records = day.values, day.records
        for dimension, value_key, records_key in _COLUMNS:
            values[dimension] = float(row[value_key])
            records[dimension] = int(row[records_key])  # a SUM: MariaDB's is a DECIMAL
        values["sleep"] /= 60
    return days


async def daily(db: Executor, user_id: int, start: dt.date, end: dt.date) -> dict[dt.date, _Day]:
    """Each day's sums and numbers of records, from `start` to `end`."""
    return _days(await fetch_all(db, _DAILY_ROWS, {"user_id": user_id, "start": start, "end": end}))


@dataclass(frozen=True, slots=True)
class CachedSummary:
    task_id: uuid.UUID
    summary: str | None
    created_at: dt.datetime


async def read(
    db: Executor, user_id: int, period: Period, today: dt.date
) -> tuple[dict[str, Any], CachedSummary | None]:
    """The period's stats, and its cached AI summary (None when none was asked for yet)."""
    parameters = {
        "user_id": user_id,
        "period": period.kind,
        "period_start": period.start,
        "start": period.previous().start,
        "end": period.end,
    }
    rows = await fetch_all(db, _STATS_READ, parameters)
    assert rows, "every user has targets from registration"
    head = rows[0]
    targets = SimpleNamespace(**{name: head[name] for name in _TARGET_NAMES})
    cached = (
        None
        if head["summary_task_id"] is None
        else CachedSummary(head["summary_task_id"], head["summary"], head["summary_created_at"])
    )
    return _compute(targets, _days(rows), period, today), cached


async def compute(db: Executor, user_id: int, period: Period, today: dt.date) -> dict[str, Any]:
    targets = SimpleNamespace(**await preferences.targets(db, user_id))
    previous = period.previous()
    return _compute(targets, await daily(db, user_id, previous.start, period.end), period, today)


def _compute(targets: Any, days: dict[dt.date, _Day], period: Period, today: dt.date) -> dict[str, Any]:
    previous = period.previous()
    # The current period counts the days so far; a future one none.
    last = min(period.end, today)
    elapsed = max(0, (last - period.start).days + 1)
    in_period = [period.start + dt.timedelta(days=n) for n in range(elapsed)]
    empty = _Day()
    # Each day's entry looked up once, not once per dimension and use (a stats read's hot loop).
    current = [days.get(day, empty) for day in in_period]
    before = [days.get(previous.start + dt.timedelta(days=n), empty) for n in range(previous.days)]
    # The days a streak may span: back from the last day so far to the previous period's start.
    back = [days.get(last - dt.timedelta(days=n), empty) for n in range((last - previous.start).days + 1)]
    since_start = [entry for day, entry in days.items() if day >= period.start]

    dimensions = {}
    for dimension, unit in UNITS.items():
        meets = scoring.meets(dimension, targets)
        total = sum((entry.values[dimension] for entry in current), 0.0)
        previous_total = sum((entry.values[dimension] for entry in before), 0.0)
        met = [meets(entry.values[dimension], entry.meals) for entry in back]
        # Today is not over yet: when it is not on target (yet), the streak may still go on.
        skip = 1 if last == today and back and not met[0] else 0
        streak = 0
        for hit in met[skip:]:
            if not hit:
                break
            streak += 1
        dimensions[dimension] = {
            "unit": unit,
            "total": round(total, 2),
            "average": round(total / elapsed, 2) if elapsed else 0.0,
            "records": sum(entry.records[dimension] for entry in since_start),
            "target": float(scoring.TARGET_OF[dimension](targets)),
            # `back` runs from the last day so far to the period's start, and on into the last one.
            "days_met": sum(met[:elapsed]),
            "streak": streak,
            "previous_total": round(previous_total, 2),
            "change_pct": round((total - previous_total) / previous_total * 100, 1)
            if previous_total
            else None,
        }
    scores = [scoring.score(scoring.parts(entry.totals(), targets)) for entry in current]
    return {
        "period": period.kind,
        "start": period.start,
        "end": period.end,
        "days": period.days,
        "score_average": round(sum(scores) / len(scores), 1) if scores else 0.0,
        "dimensions": dimensions,
    }
