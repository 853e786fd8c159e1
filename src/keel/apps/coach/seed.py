"""`keel seed`: the admin always; with `demo`, a demo user with two weeks of records in every
dimension. Idempotent: users are matched by email, and records carry fixed ids."""

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import User
from keel.apps.coach.schemas import (
    MealCreate,
    ReadingCreate,
    RegisterRequest,
    SleepCreate,
    WorkCreate,
    WorkoutCreate,
)
from keel.apps.coach.services import accounts, records
from keel.apps.coach.services.dimensions import DIMENSIONS
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
