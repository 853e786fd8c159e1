"""The day's composite score against the user's targets (documented in the app's README).

Each dimension contributes its progress to target, from 0 to 1:
- sleep: hours slept / `sleep_hours`; workout: minutes / `workout_minutes`;
  work: focus minutes / `focus_minutes`; reading: minutes / `reading_minutes` (each capped at 1);
- meals: 1 - |calories eaten - `calories`| / `calories` (floored at 0): eating far too much
  counts like eating far too little; a day with no meal recorded contributes 0.
A target of 0 asks for nothing: that dimension contributes 1. The score is the mean of the
five, times 100, rounded.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A day meets its calorie target within this share of it.
CALORIE_TOLERANCE = 0.10


@dataclass(frozen=True, slots=True)
class DayTotals:
    """One day's measures, in the units the targets use."""

    sleep_hours: float = 0.0
    workout_minutes: float = 0.0
    calories: float = 0.0
    meals: int = 0
    focus_minutes: float = 0.0
    reading_minutes: float = 0.0


def totals_of(records: dict[str, list[dict[str, Any]]]) -> DayTotals:
    return DayTotals(
        sleep_hours=sum(r["duration_minutes"] for r in records["sleep"]) / 60,
        workout_minutes=sum(r["minutes"] for r in records["workout"]),
        calories=sum(r["calories"] or 0 for r in records["meal"]),
        meals=len(records["meal"]),
        focus_minutes=sum(r["focus_minutes"] for r in records["work"]),
        reading_minutes=sum(r["minutes"] or 0 for r in records["reading"]),
    )


def _progress(value: float, target: float) -> float:
    return 1.0 if target <= 0 else min(1.0, value / target)


def parts(totals: DayTotals, targets: Any) -> dict[str, float]:
    if targets.calories <= 0:
        meal = 1.0
    elif totals.meals == 0:
        meal = 0.0
    else:
        meal = max(0.0, 1 - abs(totals.calories - targets.calories) / targets.calories)
    return {
        "sleep": round(_progress(totals.sleep_hours, targets.sleep_hours), 4),
        "workout": round(_progress(totals.workout_minutes, targets.workout_minutes), 4),
        "meal": round(meal, 4),
        "work": round(_progress(totals.focus_minutes, targets.focus_minutes), 4),
        "reading": round(_progress(totals.reading_minutes, targets.reading_minutes), 4),
    }


def score(day_parts: dict[str, float]) -> int:
    return round(100 * sum(day_parts.values()) / len(day_parts))


# Each dimension's target, read from a user's targets.
TARGET_OF = {
    "sleep": lambda t: t.sleep_hours,
    "workout": lambda t: t.workout_minutes,
    "meal": lambda t: t.calories,
    "work": lambda t: t.focus_minutes,
    "reading": lambda t: t.reading_minutes,
}


def meets(dimension: str, targets: Any) -> Callable[[float, int], bool]:
    """Whether a day's total (and number of meals) meets one dimension's target, as a test
    made once per user's targets: stats apply it to every day of two periods."""
    if dimension != "meal":
        goal = TARGET_OF[dimension](targets)
        return lambda value, _meals: value >= goal
    if targets.calories <= 0:
        return lambda _value, _meals: True
    # Calories: within 10% of the target, with a meal recorded.
    calories, tolerance = targets.calories, CALORIE_TOLERANCE * targets.calories
    return lambda value, meals: meals > 0 and abs(value - calories) <= tolerance
