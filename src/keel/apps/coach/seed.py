"""`keel seed`: the admin always; with `demo`, a demo user with two weeks of records in every
dimension and three AI tasks for the console to show (a model's review, a plan that failed, a
reading summary the rules wrote when the model did not answer). Idempotent: users are matched
by email, records carry fixed ids, and a task is one per user, kind and subject."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import AITask, AIUsage, DayLog, User
from keel.apps.coach.schemas import (
    DayStatus,
    MealCreate,
    ReadingCreate,
    RegisterRequest,
    SleepCreate,
    TaskStatus,
    TaskType,
    WorkCreate,
    WorkoutCreate,
)
from keel.apps.coach.services import accounts, records
from keel.apps.coach.services.ai import subject_of
from keel.apps.coach.services.dimensions import DIMENSIONS
from keel.core.db import utcnow
from keel.settings import Settings

DEMO_USER = ("coach@example.com", "Demo Coachee", "password123")
DAYS = 14
_NAMESPACE = uuid.UUID("6f1c2a4e-1b0d-4f5e-9a57-5d2f0c9b7e10")


async def _ensure_user(
    session: AsyncSession, email: str, name: str, password: str, settings: Settings
) -> User:
    found = (await session.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()
    if found is not None:
        return found
    data = RegisterRequest(
        email=email,
        password=password,
        display_name=name,
        timezone="Asia/Shanghai",
        privacy_policy_version=settings.coach_privacy_policy_version,
    )
    return await accounts.create_user(session, data)


def _demo_records(day: dt.date, n: int) -> list[tuple[str, object]]:
    def rid(kind: str) -> uuid.UUID:
        return uuid.uuid5(_NAMESPACE, f"{day.isoformat()}:{kind}")

    zone = dt.timezone(dt.timedelta(hours=8))
    wake = dt.datetime.combine(day, dt.time(7, 0), zone)
    items = [
        (
            "sleep",
            SleepCreate(
                id=rid("sleep"),
                bed_time=wake - dt.timedelta(hours=7, minutes=n * 5 % 60),
                wake_time=wake,
                quality=3 + n % 3,
            ),
        ),
        (
            "meal",
            MealCreate(
                id=rid("breakfast"), date=day, kind="breakfast", calories=450, items=["oatmeal", "coffee"]
            ),
        ),
        (
            "meal",
            MealCreate(
                id=rid("lunch"), date=day, kind="lunch", calories=700 + 20 * n, items=["rice", "tofu"]
            ),
        ),
        ("meal", MealCreate(id=rid("dinner"), date=day, kind="dinner", calories=650, items=["noodles"])),
        (
            "work",
            WorkCreate(
                id=rid("work"),
                date=day,
                focus_minutes=180 + 10 * n,
                tasks_done=3 + n % 4,
                summary="Shipped a feature",
            ),
        ),
        (
            "reading",
            ReadingCreate(id=rid("reading"), date=day, title="Deep Work", pages=15 + n, minutes=20 + n),
        ),
    ]
    if n % 2 == 0:
        items.append(
            ("workout", WorkoutCreate(id=rid("workout"), date=day, kind="run", minutes=30 + n, calories=300))
        )
    return items


async def seed(session: AsyncSession, settings: Settings, *, demo: bool) -> None:
    admin = await _ensure_user(session, settings.admin_email, "Admin", settings.admin_password, settings)
    admin.is_admin = True
    if demo:
        await _demo(session, settings)


async def _demo(session: AsyncSession, settings: Settings) -> None:
    user = await _ensure_user(session, *DEMO_USER, settings)
    today = records.today(user.timezone)
    for n in range(DAYS):
        for dimension, data in _demo_records(today - dt.timedelta(days=DAYS - n), n):
            await records.create_in_session(session, DIMENSIONS[dimension], user.id, user.timezone, data)  # type: ignore[arg-type]
    await session.flush()
    await _demo_tasks(session, user, today)


@dataclass(frozen=True)
class _DemoTask:
    kind: TaskType
    given: dict[str, str]
    status: TaskStatus
    ago: dt.timedelta  # made this long before the seed runs
    took: dt.timedelta
    provider: str | None = None
    latency_ms: int | None = None
    tokens: tuple[int, int] | None = None
    written: dict[str, Any] | None = None
    fallback_reason: str | None = None
    error: str | None = None


def _demo_task_list(today: dt.date) -> list[_DemoTask]:
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    return [
        _DemoTask(
            TaskType.review,
            {"date": yesterday},
            TaskStatus.succeeded,
            ago=dt.timedelta(hours=9),
            took=dt.timedelta(seconds=3),
            provider="llm:gpt-4o-mini",
            latency_ms=2310,
            tokens=(412, 168),
            written={
                "summary": "A steady day: seven hours of sleep and most of your focus target.",
                "highlights": ["Slept 7 hours", "Read 33 minutes"],
                "suggestions": ["Take a short walk after lunch", "Stop screens by 23:00"],
            },
        ),
        _DemoTask(
            TaskType.tomorrow_plan,
            {"date": (today + dt.timedelta(days=1)).isoformat()},
            TaskStatus.failed,
            ago=dt.timedelta(hours=2),
            took=dt.timedelta(minutes=5),
            error="TimeoutError: the AI writer did not answer within the job's time limit",
        ),
        _DemoTask(
            TaskType.reading_summary,
            {"from": (today - dt.timedelta(days=7)).isoformat(), "to": yesterday},
            TaskStatus.succeeded,
            ago=dt.timedelta(hours=1),
            took=dt.timedelta(seconds=21),
            provider="rules:fallback",
            latency_ms=4,
            written={
                "summary": "You read Deep Work on 7 days, 20 pages a day on average.",
                "highlights": ["Read every day"],
                "suggestions": ["Keep the evening reading slot"],
            },
            fallback_reason="gave up after 3 attempts; last: HTTP 503",
        ),
    ]


async def _demo_tasks(session: AsyncSession, user: User, today: dt.date) -> None:
    """The demo tasks, each made once (as the API makes one per user, kind and subject); the
    review lands on its day log as a real one does. Today's usage counts them."""
    now = utcnow()
    for demo in _demo_task_list(today):
        subject = subject_of(demo.kind, demo.given)
        taken = await session.scalar(
            select(AITask.id).where(
                AITask.user_id == user.id, AITask.type == demo.kind, AITask.subject == subject
            )
        )
        if taken is not None:
            continue
        task_id = uuid.uuid5(_NAMESPACE, f"task:{demo.kind}:{subject}")
        created = now - demo.ago
        result = None
        if demo.written is not None:
            result = {
                **demo.written,
                "fallback": demo.fallback_reason is not None,
                **({"fallback_reason": demo.fallback_reason} if demo.fallback_reason else {}),
                "task_id": str(task_id),
                "provider": demo.provider,
                "created_at": (created + demo.took).isoformat(),
            }
        session.add(
            AITask(
                id=task_id,
                user_id=user.id,
                type=demo.kind,
                subject=subject,
                input=demo.given,
                result=result,
                status=demo.status,
                error=demo.error,
                provider=demo.provider,
                latency_ms=demo.latency_ms,
                tokens_in=demo.tokens[0] if demo.tokens else None,
                tokens_out=demo.tokens[1] if demo.tokens else None,
                created_at=created,
                updated_at=created + demo.took,
            )
        )
        if demo.kind == TaskType.review and result is not None:
            log_id = await records.day_log_id(session, user.id, dt.date.fromisoformat(demo.given["date"]))
            await session.execute(
                update(DayLog).where(DayLog.id == log_id).values(ai_report=result, status=DayStatus.reviewed)
            )
    if await session.get(AIUsage, (user.id, now.date())) is None:
        session.add(AIUsage(user_id=user.id, day=now.date(), tasks=3))
    await session.flush()
