"""Support's reads across every user (issue 15): the users with their AI tasks' counts, one
user's profile, records per dimension and AI usage, and the AI tasks with their runs. What an
AI wrote for a user is never answered: a task's detail names each withheld field and its size."""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import AITask, AIUsage, DayLog, Session, User
from keel.apps.coach.schemas import FINISHED, TaskStatus, TaskType, is_fallback
from keel.apps.coach.services import preferences
from keel.apps.coach.services.dimensions import DIMENSIONS, live
from keel.core.db import Executor, utcnow
from keel.core.errors import NotFound
from keel.core.pagination import PageRequest, fetch_page

RECENT_TASKS = 10
# The text a task writes for its user: reviews, plans and summaries read back their day.
WRITTEN = ("summary", "highlights", "suggestions")
LLM = "llm:"

_USER_COLUMNS = [column for column in User.__table__.columns if column.key != "hashed_password"]
_TASK_COLUMNS = [column for column in AITask.__table__.columns if column.key not in ("input", "result")]


def _task_counts() -> tuple[Any, ...]:
    def of(condition: ColumnElement[bool] | None = None) -> Any:
        counting = select(func.count()).where(AITask.user_id == User.id)
        if condition is not None:
            counting = counting.where(condition)
        return counting.scalar_subquery()

    return (
        of().label("ai_tasks"),
        of(AITask.status == TaskStatus.failed).label("ai_failed"),
        select(func.max(AITask.created_at))
        .where(AITask.user_id == User.id)
        .scalar_subquery()
        .label("last_task_at"),
    )


async def list_users(
    db: Executor, page: PageRequest, *, search: str | None
) -> tuple[list[dict[str, Any]], int]:
    """Users newest first; `search` is a part of the email, phone number or display name, in
    any case."""
    statement = select(*_USER_COLUMNS, *_task_counts()).order_by(User.id.desc())
    if search:
        statement = statement.where(
            or_(
                User.email.icontains(search, autoescape=True),
                User.phone.icontains(search, autoescape=True),
                User.display_name.icontains(search, autoescape=True),
            )
        )
    rows, total = await fetch_page(db, statement, page)
    return [dict(row._mapping) for row in rows], total


async def user_detail(session: AsyncSession, user_id: int, daily_quota: int) -> dict[str, Any]:
    row = (await session.execute(select(*_USER_COLUMNS, *_task_counts()).where(User.id == user_id))).first()
    if row is None:
        raise NotFound("No such user")
    records: dict[str, int] = {}
    last_days: list[dt.date] = []
    for name, spec in DIMENSIONS.items():
        counted = (
            await session.execute(
                select(func.count(), func.max(spec.model.date)).where(
                    spec.model.user_id == user_id, live(spec.model)
                )
            )
        ).one()
        records[name] = counted[0]
        if counted[1] is not None:
            last_days.append(counted[1])
    day_logs = await session.scalar(select(func.count()).where(DayLog.user_id == user_id))
    now = utcnow()
    signed_in = (
        await session.execute(
            select(func.count(), func.max(Session.last_used_at)).where(
                Session.user_id == user_id, Session.revoked_at.is_(None), Session.expires_at > now
            )
        )
    ).one()
    return {
        **row._mapping,
        "ai_settings": await preferences.ai_settings(session, user_id),
        "records": records,
        "day_logs": day_logs or 0,
        "last_record_day": max(last_days, default=None),
        "sessions": {"active": signed_in[0], "last_used_at": signed_in[1]},
        "ai_usage": await _usage(session, user_id, daily_quota, now.date()),
        "recent_tasks": await _recent_tasks(session, user_id),
    }


async def _usage(session: AsyncSession, user_id: int, daily_quota: int, today: dt.date) -> dict[str, Any]:
    days = (
        await session.execute(
            select(AIUsage.day, AIUsage.tasks).where(AIUsage.user_id == user_id).order_by(AIUsage.day.desc())
        )
    ).all()
    statuses = dict(
        (
            await session.execute(
                select(AITask.status, func.count()).where(AITask.user_id == user_id).group_by(AITask.status)
            )
        ).all()
    )
    return {
        "daily_quota": daily_quota,
        "today": next((tasks for day, tasks in days if day == today), 0),
        "days": [{"day": day, "tasks": tasks} for day, tasks in days],
        "by_status": {status.value: statuses.get(status.value, 0) for status in TaskStatus},
    }


async def _recent_tasks(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    statement = _tasks().where(AITask.user_id == user_id).limit(RECENT_TASKS)
    return [_task(row) for row in (await session.execute(statement)).all()]


def _tasks(*extra: Any) -> Select[Any]:
    """Tasks newest first, each with its owner and without what it was asked or wrote."""
    return (
        select(*_TASK_COLUMNS, *extra, User.email.label("owner_email"), User.display_name.label("owner_name"))
        .join(User, User.id == AITask.user_id)
        .order_by(AITask.created_at.desc(), AITask.id)
    )


def _task(row: Any) -> dict[str, Any]:
    fields = dict(row._mapping)
    provider = fields["provider"]
    return fields | {
        "user": {
            "id": fields["user_id"],
            "email": fields.pop("owner_email"),
            "display_name": fields.pop("owner_name"),
        },
        "model": provider[len(LLM) :] if provider and provider.startswith(LLM) else None,
        "fallback": bool(provider and provider.startswith("rules")),
        "finished_at": fields["updated_at"] if fields["status"] in FINISHED else None,
    }


def provider_matches(provider: str) -> ColumnElement[bool]:
    """A provider as stored (`llm:gpt-4o-mini`) or its family (`llm`, `rules`)."""
    return or_(AITask.provider == provider, AITask.provider.startswith(f"{provider}:", autoescape=True))


async def list_tasks(
    db: Executor,
    page: PageRequest,
    *,
    status: TaskStatus | None,
    kind: TaskType | None,
    provider: str | None,
    user_id: int | None,
) -> tuple[list[dict[str, Any]], int]:
    statement = _tasks()
    if status is not None:
        statement = statement.where(AITask.status == status)
    if kind is not None:
        statement = statement.where(AITask.type == kind)
    if provider:
        statement = statement.where(provider_matches(provider))
    if user_id is not None:
        statement = statement.where(AITask.user_id == user_id)
    rows, total = await fetch_page(db, statement, page)
    return [_task(row) for row in rows], total


async def task_detail(db: Executor, task_id: uuid.UUID) -> dict[str, Any]:
    row = (await db.execute(_tasks(AITask.input, AITask.result).where(AITask.id == task_id))).first()
    if row is None:
        raise NotFound("No such AI task")
    task = _task(row)
    stored = task["result"]
    task["fallback"] = is_fallback(stored, task["provider"])
    task["withheld"] = []
    if stored is not None:
        task["result"] = {key: value for key, value in stored.items() if key not in WRITTEN}
        for key in WRITTEN:
            if key in stored:
                value = stored[key]
                size = len(value) if isinstance(value, str | list) else 0
                unit = "items" if isinstance(value, list) else "characters"
                task["withheld"].append({"field": key, "size": size, "unit": unit})
    return task


async def providers(db: Executor) -> list[dict[str, Any]]:
    """Every provider that wrote a task, with how many, most used first: the filter's choices."""
    rows = await db.execute(
        select(AITask.provider, func.count().label("tasks"))
        .where(AITask.provider.is_not(None))
        .group_by(AITask.provider)
        .order_by(func.count().desc(), AITask.provider)
    )
    return [dict(row._mapping) for row in rows]
