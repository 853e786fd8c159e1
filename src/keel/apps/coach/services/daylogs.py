"""Day logs: a day's records per dimension, its score, the AI's report and plan, its status."""

import datetime as dt
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import DayLog, Target
from keel.apps.coach.schemas import DayLogUpdate
from keel.apps.coach.services import records, scoring
from keel.core.db import Executor, fetch_one, utcnow
from keel.core.errors import Conflict, Unprocessable

# The targets and (when it exists) the day's log, in one round trip.
_TARGETS_AND_LOG = (
    select(
        Target.sleep_hours,
        Target.workout_minutes,
        Target.calories,
        Target.focus_minutes,
        Target.reading_minutes,
        DayLog.status,
        DayLog.note,
        DayLog.ai_report,
        DayLog.ai_plan,
        DayLog.version,
    )
    .select_from(Target)
    .outerjoin(DayLog, (DayLog.user_id == Target.user_id) & (DayLog.date == bindparam("date")))
    .where(Target.user_id == bindparam("user_id"))
)


async def read(db: Executor, user_id: int, day: dt.date) -> dict[str, Any]:
    """The day as the client shows it; a day with nothing recorded yet is an empty, open log."""
    head = await fetch_one(db, _TARGETS_AND_LOG, {"user_id": user_id, "date": day})
    assert head is not None, "every user has targets from registration"
    day_records = await records.of_day(db, user_id, day)
    parts = scoring.parts(scoring.totals_of(day_records), SimpleNamespace(**head))
    return {
        "date": day,
        "status": head["status"] or "open",
        "note": head["note"],
        "score": scoring.score(parts),
        "score_parts": parts,
        "ai_report": head["ai_report"],
        "ai_plan": head["ai_plan"],
        "version": head["version"] or 1,
        "records": day_records,
    }


async def change(session: AsyncSession, user_id: int, day: dt.date, data: DayLogUpdate) -> None:
    """Set the day's status or note; with `version`, only if the log is still at it."""
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if not changes:
        raise Unprocessable("Nothing to change: send `status` or `note`")
    log_id = await records.day_log_id(session, user_id, day)
    statement = update(DayLog).where(DayLog.id == log_id)
    if data.version is not None:
        statement = statement.where(DayLog.version == data.version)
    result = await session.execute(
        statement.values(**changes, version=DayLog.version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        current = (await session.execute(select(DayLog.version).where(DayLog.id == log_id))).scalar_one()
        raise Conflict(f"The day log is at version {current}, not {data.version}: fetch it and retry")
