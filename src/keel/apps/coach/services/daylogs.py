"""Day logs: a day's records per dimension, its score, the AI's report and plan, its status;
their change feed, as the records' (services/records.py), for an offline client's sync."""

import datetime as dt
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import DayLog, Target
from keel.apps.coach.schemas import DayLogOut, DayLogUpdate, DayStatus, Targets
from keel.apps.coach.services import records, scoring
from keel.core import changes as change_feed
from keel.core.changes import ChangePage, ChangesRequest, Source
from keel.core.db import Executor, fetch_all, utcnow
from keel.core.errors import Unprocessable

# The targets, the day's log (when it exists) and its records, in one round trip: a row per
# record (one with NULL record columns on a day without any), each beside the targets and log.
_R = records.DAY_RECORDS.c
_TARGETS = tuple(Targets.model_fields)
_DAY = (
    select(
        # Labelled apart from the records' columns of the same names.
        *(getattr(Target, name).label(f"target_{name}") for name in _TARGETS),
        DayLog.status.label("log_status"),
        DayLog.note.label("log_note"),
        DayLog.ai_report,
        DayLog.ai_plan,
        DayLog.version.label("log_version"),
        DayLog.updated_at.label("log_updated_at"),
        *(column for column in _R if column.key != "user_id"),
    )
    .select_from(Target)
    .outerjoin(DayLog, (DayLog.user_id == Target.user_id) & (DayLog.date == bindparam("date")))
    .outerjoin(records.DAY_RECORDS, _R.user_id == Target.user_id)
    .where(Target.user_id == bindparam("user_id"))
    .order_by(_R.created_at, _R.id)
)


async def read(db: Executor, user_id: int, day: dt.date) -> dict[str, Any]:
    """The day as the client shows it; a day with nothing recorded yet is an empty, open log."""
    rows = await fetch_all(db, _DAY, {"user_id": user_id, "date": day})
    assert rows, "every user has targets from registration"
    head = rows[0]
    targets = SimpleNamespace(**{name: head[f"target_{name}"] for name in _TARGETS})
    day_records = records.by_dimension(rows)
    parts = scoring.parts(scoring.totals_of(day_records), targets)
    return {
        "date": day,
        "status": head["log_status"] or DayStatus.open,
        "note": head["log_note"],
        "score": scoring.score(parts),
        "score_parts": parts,
        "ai_report": head["ai_report"],
        "ai_plan": head["ai_plan"],
        "version": head["log_version"] or 1,
        "updated_at": head["log_updated_at"],
        "records": day_records,
    }


async def change(session: AsyncSession, user_id: int, day: dt.date, data: DayLogUpdate) -> None:
    """Set the day's status or note; with `version`, only if the log is still at it (else 409
    with the log as the server has it)."""
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
        current = DayLogOut.model_validate(await read(session, user_id, day)).model_dump(mode="json")
        raise records.VersionConflict(
            f"The day log is at version {current['version']}, not {data.version}: apply your change "
            "to `current` and retry",
            current,
        )


_LOG_KEYS = ("date", "status", "note", "ai_report", "ai_plan", "version", "updated_at")


async def changes(db: Executor, user_id: int, request: ChangesRequest) -> ChangePage[dict[str, Any]]:
    """What changed in the user's day logs after the request's position, oldest first, ordered
    and settled as the records' feed is (`record_feed.changes` says why). Day logs are never
    deleted (only with the account), so there are no tombstones."""
    source = Source(
        select(DayLog.id, *(getattr(DayLog, key) for key in _LOG_KEYS)).where(DayLog.user_id == user_id),
        changed_at=DayLog.updated_at,
        id=DayLog.id,
        item=lambda row: {key: row[key] for key in _LOG_KEYS},
        id_of=int,
    )
    return await change_feed.read(db, [source], request, utcnow())
