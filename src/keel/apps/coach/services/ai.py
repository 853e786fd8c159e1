"""AI tasks: accepted at once (202) and run by a durable job; the review and the plan land on
their day log, a stats summary in its period's cache (services/summaries.py). Only what a
prompt needs is sent: numbers and kinds, never the user's identity, notes or free text (except
reading notes, which a reading summary is about).

A task is one per user, kind and subject (the day, range or period it is about): a second
submit answers the stored task, or runs it again in place when it failed, was canceled or was
written by the rules (a fallback); each start counts against the daily quota. A fallback never
replaces a model's result: the last success stays what the task and the day log answer."""

import datetime as dt
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import AITask, DayLog, IdempotencyKey, Reading, StatsSummary
from keel.apps.coach.schemas import DayStatus, TaskStatus, TaskType, is_fallback
from keel.apps.coach.services import preferences, providers, quota, records, scoring, stats
from keel.apps.coach.services.dimensions import live
from keel.apps.coach.tasks import queue
from keel.core.db import Executor, utcnow
from keel.core.errors import Conflict, NotFound
from keel.core.idempotency import Idempotency
from keel.core.jobs import JobContext
from keel.core.pagination import PageRequest, fetch_page, page_of
from keel.core.sql import insert_skipping_duplicates

PLAN_LOOKBACK_DAYS = 7
ACTIVE = (TaskStatus.queued, TaskStatus.running)
# A submit's retry within this long after its first is still running gets a 409, then runs.
idempotency = Idempotency(IdempotencyKey, lease=timedelta(minutes=1))


def subject_of(kind: TaskType, given: dict[str, Any]) -> str:
    """What a task is about, which makes it the same task as another."""
    if kind == TaskType.reading_summary:
        return f"{given['from']}..{given['to']}"
    if kind == TaskType.stats_summary:
        return f"{given['period']}:{given['start']}"
    return given["date"]


def _runs_again(task: Any, refresh: bool) -> bool:
    if task.status in ACTIVE:
        return False
    if task.status != TaskStatus.succeeded:  # failed or canceled
        return True
    return refresh or is_fallback(task.result, task.provider)


async def submit(
    session: AsyncSession,
    request: Request | None,
    user_id: int,
    kind: TaskType,
    given: dict[str, Any],
    *,
    daily_quota: int | None,
    refresh: bool = False,
) -> dict[str, Any]:
    """The user's task for this subject: made and queued, run again (`refresh`: even after a
    model's success), or as stored. Starting one spends the daily quota (None: the nightly job's,
    which spends none); it commits with the caller's transaction."""
    subject = subject_of(kind, given)
    mine = select(AITask.__table__).where(
        AITask.user_id == user_id, AITask.type == kind, AITask.subject == subject
    )
    task = (await session.execute(mine)).first()
    if task is None:
        new_id = uuid.uuid4()
        now = utcnow()
        row = {"id": new_id, "user_id": user_id, "type": kind, "subject": subject, "input": given}
        await session.execute(
            insert_skipping_duplicates(session, AITask.__table__, ["user_id", "type", "subject"]).values(
                **row, status=TaskStatus.queued, runs=1, seq=1, created_at=now, updated_at=now
            )
        )
        task = (await session.execute(mine)).one()
        if task.id == new_id:  # not another request's, made just before
            await _start(session, request, user_id, new_id, 1, daily_quota)
            return dict(task._mapping)
    if _runs_again(task, refresh):
        again = await session.execute(
            update(AITask)
            .where(AITask.id == task.id, AITask.runs == task.runs)
            .values(
                status=TaskStatus.queued,
                input=given,
                runs=task.runs + 1,
                seq=task.seq + 1,
                error=None,
                updated_at=utcnow(),
            )
        )
        if again.rowcount == 1:  # else a concurrent submit ran it again first
            await _start(session, request, user_id, task.id, task.runs + 1, daily_quota)
        task = (await session.execute(mine)).one()
    return dict(task._mapping)


async def _start(
    session: AsyncSession,
    request: Request | None,
    user_id: int,
    task_id: uuid.UUID,
    run: int,
    daily_quota: int | None,
) -> None:
    if daily_quota is not None:
        await quota.spend(session, user_id, daily_quota)
    await queue.enqueue(session, "ai_task", {"task_id": str(task_id), "run": run}, request=request)


async def find(db: Executor, user_id: int, task_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await db.execute(select(AITask.__table__).where(AITask.id == task_id, AITask.user_id == user_id))
    ).first()
    if row is None:
        raise NotFound("No such AI task")
    return dict(row._mapping)


async def tasks(
    db: Executor, user_id: int, page: PageRequest, kind: TaskType | None, status: TaskStatus | None
) -> Any:
    """The user's tasks, newest first."""
    query = select(AITask.__table__).where(AITask.user_id == user_id)
    if kind is not None:
        query = query.where(AITask.type == kind)
    if status is not None:
        query = query.where(AITask.status == status)
    rows, total = await fetch_page(db, query.order_by(AITask.created_at.desc(), AITask.id), page)
    return page_of([dict(row._mapping) for row in rows], total, page)


async def cancel(session: AsyncSession, user_id: int, task_id: uuid.UUID) -> dict[str, Any]:
    """Queued or running -> canceled (a run in flight finishes its call, and its result is
    dropped); 409 once it has finished."""
    canceled = await session.execute(
        update(AITask)
        .where(AITask.id == task_id, AITask.user_id == user_id, AITask.status.in_(ACTIVE))
        .values(status=TaskStatus.canceled, seq=AITask.seq + 1, updated_at=utcnow())
    )
    task = await find(session, user_id, task_id)
    if canceled.rowcount != 1:
        raise Conflict(
            f"The task has already finished ({task['status']}); only a queued or running one can be canceled"
        )
    return task


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
        .where(Reading.user_id == user_id, Reading.date.between(since, until), live(Reading))
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
    """Put a result where the client reads it; a failed task never reaches here, and a fallback
    never replaces a model's report or plan (one stored before tasks were one per day)."""
    if task.type in (TaskType.review, TaskType.tomorrow_plan):
        day = dt.date.fromisoformat(task.input["date"])
        log_id = await records.day_log_id(session, task.user_id, day)
        column = DayLog.ai_report if task.type == TaskType.review else DayLog.ai_plan
        stored = await session.scalar(select(column).where(DayLog.id == log_id))
        if result["fallback"] and stored is not None and not is_fallback(stored, stored.get("provider")):
            return
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


def _this_run(task_id: uuid.UUID, run: int, *statuses: str) -> Any:
    """An UPDATE of the task that applies only while this run owns it in one of `statuses`: not
    after a cancel, nor once a newer run started."""
    return update(AITask).where(AITask.id == task_id, AITask.runs == run, AITask.status.in_(statuses))


@queue.handler("ai_task")
async def run(context: JobContext, payload: dict[str, Any]) -> None:
    task_id = uuid.UUID(payload["task_id"])
    async with context.database.sessionmaker() as session:
        task = await session.get(AITask, task_id)
        if task is None:
            return  # erased with its user
        run = payload.get("run", task.runs)  # jobs queued before runs were numbered have none
        started = await session.execute(
            _this_run(task_id, run, *ACTIVE).values(
                status=TaskStatus.running, seq=AITask.seq + 1, updated_at=utcnow()
            )
        )
        await session.commit()
        if started.rowcount != 1:
            return  # canceled, finished by a run whose lease had lapsed, or superseded
        await session.refresh(task)
        try:
            prompt = await _PROMPTS[task.type](session, task.user_id, task.input)
            style = await preferences.ai_settings(session, task.user_id)
            written = await providers.write(context.settings, task.type, prompt, style.style, style.language)
        except Exception as error:
            await session.rollback()
            await session.execute(
                _this_run(task_id, run, TaskStatus.running).values(
                    status=TaskStatus.failed if context.final_attempt else TaskStatus.queued,
                    error=f"{type(error).__name__}: {error}"[:2000],
                    seq=AITask.seq + 1,
                    updated_at=utcnow(),
                )
            )
            await session.commit()
            raise
        await _finish(session, task, run, written)


async def _finish(session: AsyncSession, task: AITask, run: int, written: providers.Written) -> None:
    result = {
        **written.content,
        "fallback": written.fallback,
        "task_id": str(task.id),
        "provider": written.provider,
        "created_at": utcnow().isoformat(),
    }
    values: dict[str, Any] = {"status": TaskStatus.succeeded, "seq": AITask.seq + 1, "updated_at": utcnow()}
    replaces = not (
        written.fallback and task.result is not None and not is_fallback(task.result, task.provider)
    )
    if replaces:
        values |= {
            "result": result,
            "error": None,
            "provider": written.provider,
            "latency_ms": written.latency_ms,
            "tokens_in": written.tokens_in,
            "tokens_out": written.tokens_out,
        }
    else:  # the model's last result stays; the error says why this run's was not kept
        values["error"] = f"The LLM failed, so its last result was kept: {result['fallback_reason']}"[:2000]
    finished = await session.execute(_this_run(task.id, run, TaskStatus.running).values(**values))
    if finished.rowcount == 1 and replaces:
        await _keep(session, task, result)
    await session.commit()
