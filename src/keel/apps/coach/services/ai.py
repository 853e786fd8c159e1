"""AI tasks: accepted at once (202) and run by a durable job; the review and the plan land on
their day log, a stats summary in its period's cache. Only what a prompt needs is sent: numbers
and kinds, never the user's identity, notes or free text (except reading notes, which a
reading summary is about)."""

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Any

from fastapi import Request
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import AITask, DayLog, Reading, StatsSummary
from keel.apps.coach.schemas import DayStatus, TaskStatus, TaskType
from keel.apps.coach.services import preferences, providers, records, scoring, stats
from keel.apps.coach.tasks import queue
from keel.core.db import Executor, utcnow
from keel.core.errors import NotFound
from keel.core.jobs import JobContext
from keel.core.sql import insert_skipping_duplicates

PLAN_LOOKBACK_DAYS = 7
# A summary of a period still running is written again once it is this old.
SUMMARY_FRESH_FOR = dt.timedelta(hours=6)


async def submit(
    session: AsyncSession, request: Request | None, user_id: int, kind: TaskType, given: dict[str, Any]
) -> AITask:
    """The task, queued, with its job; both commit with the caller's transaction."""
    task = AITask(id=uuid.uuid4(), user_id=user_id, type=kind, input=given, status=TaskStatus.queued)
    session.add(task)
    await session.flush()
    await queue.enqueue(session, "ai_task", {"task_id": str(task.id)}, request=request)
    return task


async def find(db: Executor, user_id: int, task_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await db.execute(select(AITask.__table__).where(AITask.id == task_id, AITask.user_id == user_id))
    ).first()
    if row is None:
        raise NotFound("No such AI task")
    return dict(row._mapping)


# --- what each kind of task sends --------------------------------------------------------------


def _targets_by_dimension(targets: dict[str, Any]) -> dict[str, float]:
    return {
        "sleep": targets["sleep_hours"],
        "workout": targets["workout_minutes"],
        "meal": targets["calories"],
        "work": targets["focus_minutes"],
        "reading": targets["reading_minutes"],
    }


def _measures(totals: scoring.DayTotals) -> dict[str, float]:
    return {
        "sleep": round(totals.sleep_hours, 2),
        "workout": totals.workout_minutes,
        "meal": totals.calories,
        "work": totals.focus_minutes,
        "reading": totals.reading_minutes,
    }


async def _review_prompt(session: AsyncSession, user_id: int, given: dict[str, Any]) -> dict[str, Any]:
    day = dt.date.fromisoformat(given["date"])
    targets = await preferences.targets(session, user_id)
    day_records = await records.of_day(session, user_id, day)
    totals = scoring.totals_of(day_records)
    return {
        "date": day.isoformat(),
        "score": scoring.score(scoring.parts(totals, SimpleNamespace(**targets))),
        "measures": _measures(totals),
        "targets": _targets_by_dimension(targets),
        "workouts": [{"kind": r["kind"], "minutes": r["minutes"]} for r in day_records["workout"]],
        "meals": [
            {"kind": r["kind"], "calories": r["calories"], "items": r["items"]} for r in day_records["meal"]
        ],
        "sleep": [
            {"hours": round(r["duration_minutes"] / 60, 2), "quality": r["quality"]}
            for r in day_records["sleep"]
        ],
    }


async def _plan_prompt(session: AsyncSession, user_id: int, given: dict[str, Any]) -> dict[str, Any]:
    day = dt.date.fromisoformat(given["date"])
    targets = await preferences.targets(session, user_id)
    start = day - dt.timedelta(days=PLAN_LOOKBACK_DAYS)
    days = await stats.daily(session, user_id, start, day - dt.timedelta(days=1))
    averages = {
        dimension: round(sum(entry.values[dimension] for entry in days.values()) / PLAN_LOOKBACK_DAYS, 2)
        for dimension in stats.UNITS
    }
    return {
        "date": day.isoformat(),
        "days": PLAN_LOOKBACK_DAYS,
        "measures": averages,
        "targets": _targets_by_dimension(targets),
    }


async def _reading_prompt(session: AsyncSession, user_id: int, given: dict[str, Any]) -> dict[str, Any]:
    since, until = dt.date.fromisoformat(given["from"]), dt.date.fromisoformat(given["to"])
    rows = await session.execute(
        select(Reading.title, Reading.pages, Reading.minutes, Reading.notes)
        .where(Reading.user_id == user_id, Reading.date.between(since, until))
        .order_by(Reading.date, Reading.created_at)
    )
    targets = await preferences.targets(session, user_id)
    return {
        "from": since.isoformat(),
        "to": until.isoformat(),
        "days": (until - since).days + 1,
        "target_minutes_per_day": targets["reading_minutes"],
        "books": [dict(row._mapping) for row in rows],
    }


async def _stats_prompt(session: AsyncSession, user_id: int, given: dict[str, Any]) -> dict[str, Any]:
    period = stats.Period.containing(given["period"], dt.date.fromisoformat(given["start"]))
    computed = await stats.compute(session, user_id, period, dt.date.fromisoformat(given["today"]))
    return {
        "period": period.kind,
        "start": period.start.isoformat(),
        "score_average": computed["score_average"],
        "measures": {name: d["average"] for name, d in computed["dimensions"].items()},
        "targets": {name: d["target"] for name, d in computed["dimensions"].items()},
        "days_met": {name: d["days_met"] for name, d in computed["dimensions"].items()},
        "change_pct": {name: d["change_pct"] for name, d in computed["dimensions"].items()},
    }


_PROMPTS = {
    TaskType.review: _review_prompt,
    TaskType.tomorrow_plan: _plan_prompt,
    TaskType.reading_summary: _reading_prompt,
    TaskType.stats_summary: _stats_prompt,
}


# --- running a task ------------------------------------------------------------------------------


async def _keep(session: AsyncSession, task: AITask, result: dict[str, Any]) -> None:
    """Put a good result where the client reads it; a failed task never reaches here, so the
    last good result stays."""
    if task.type in (TaskType.review, TaskType.tomorrow_plan):
        day = dt.date.fromisoformat(task.input["date"])
        log_id = await records.day_log_id(session, task.user_id, day)
        values: dict[str, Any] = (
            {"ai_report": result, "status": DayStatus.reviewed}
            if task.type == TaskType.review
            else {"ai_plan": result}
        )
        await session.execute(update(DayLog).where(DayLog.id == log_id).values(**values, updated_at=utcnow()))
    elif task.type == TaskType.stats_summary:
        await session.execute(
            update(StatsSummary).where(StatsSummary.task_id == task.id).values(summary=result["summary"])
        )


@queue.handler("ai_task")
async def run(context: JobContext, payload: dict[str, Any]) -> None:
    task_id = uuid.UUID(payload["task_id"])
    async with context.database.sessionmaker() as session:
        task = await session.get(AITask, task_id)
        if task is None or task.status == TaskStatus.succeeded:
            return  # erased with its user, or done by a run whose lease had lapsed
        task.status = TaskStatus.running
        await session.commit()
        try:
            prompt = await _PROMPTS[task.type](session, task.user_id, task.input)
            style = await preferences.ai_settings(session, task.user_id)
            written = await providers.write(context.settings, task.type, prompt, style.style, style.language)
        except Exception as error:
            await session.rollback()
            await session.execute(
                update(AITask)
                .where(AITask.id == task_id)
                .values(
                    status=TaskStatus.failed if context.final_attempt else TaskStatus.queued,
                    error=f"{type(error).__name__}: {error}"[:2000],
                    updated_at=utcnow(),
                )
            )
            await session.commit()
            raise
        result = {
            **written.content,
            "task_id": str(task.id),
            "provider": written.provider,
            "created_at": utcnow().isoformat(),
        }
        task.status, task.result, task.error = TaskStatus.succeeded, result, None
        task.provider, task.latency_ms = written.provider, written.latency_ms
        task.tokens_in, task.tokens_out = written.tokens_in, written.tokens_out
        await _keep(session, task, result)
        await session.commit()


# --- stats summaries -----------------------------------------------------------------------------


# Read back after asking for a summary, to see whether this request or another one asked first.
_SUMMARY = select(StatsSummary.task_id, StatsSummary.summary, StatsSummary.created_at).where(
    StatsSummary.user_id == bindparam("user_id"),
    StatsSummary.period == bindparam("period"),
    StatsSummary.start == bindparam("start"),
)


async def stats_summary(
    session: AsyncSession,
    request: Request,
    user_id: int,
    period: stats.Period,
    today: dt.date,
    cached: stats.CachedSummary | None,
) -> tuple[str | None, uuid.UUID | None]:
    """The period's cached summary (as `stats.read` found it) and the task writing it; asks for
    one when there is none yet, or when the period is still running and the last one is older
    than SUMMARY_FRESH_FOR."""
    running = period.start <= today <= period.end
    if cached is not None and not (running and cached.created_at < utcnow() - SUMMARY_FRESH_FOR):
        return cached.summary, cached.task_id
    task_id = uuid.uuid4()
    if cached is None:
        await session.execute(
            insert_skipping_duplicates(
                session, StatsSummary.__table__, ["user_id", "period", "start"]
            ).values(
                user_id=user_id, period=period.kind, start=period.start, task_id=task_id, created_at=utcnow()
            )
        )
    else:
        # The old summary stays until the new one is written.
        await session.execute(
            update(StatsSummary)
            .where(StatsSummary.user_id == user_id, StatsSummary.task_id == cached.task_id)
            .values(task_id=task_id, created_at=utcnow())
        )
    parameters = {"user_id": user_id, "period": period.kind, "start": period.start}
    now = (await session.execute(_SUMMARY, parameters)).first()
    if now is None or now.task_id != task_id:  # another request asked first
        return (now.summary, now.task_id) if now else (None, None)
    given = {"period": period.kind, "start": period.start.isoformat(), "today": today.isoformat()}
    task = AITask(
        id=task_id, user_id=user_id, type=TaskType.stats_summary, input=given, status=TaskStatus.queued
    )
    session.add(task)
    await session.flush()
    await queue.enqueue(session, "ai_task", {"task_id": str(task_id)}, request=request)
    return (cached.summary if cached else None), task_id
