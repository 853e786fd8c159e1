"""The user's targets, reminders and AI style: one row each, made at registration."""

from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import Target, UserSettings
from keel.apps.coach.schemas import AISettings, Notifications, Targets
from keel.core.db import Executor, fetch_one, utcnow

# Built once with a bound parameter: reads run it precompiled (core/db.py Autocommit.fetch_all).
_TARGETS = select(*(getattr(Target, name) for name in Targets.model_fields)).where(
    Target.user_id == bindparam("user_id")
)


async def targets(db: Executor, user_id: int) -> dict[str, Any]:
    row = await fetch_one(db, _TARGETS, {"user_id": user_id})
    assert row is not None, "every user has targets from registration"
    return row


async def set_targets(session: AsyncSession, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    if changes:
        await session.execute(
            update(Target).where(Target.user_id == user_id).values(**changes, updated_at=utcnow())
        )
    return await targets(session, user_id)


async def notifications(db: Executor, user_id: int) -> Notifications:
    stored = (
        await db.execute(select(UserSettings.notifications).where(UserSettings.user_id == user_id))
    ).scalar_one()
    # Stored as given; settings added later take their defaults.
    return Notifications.model_validate(stored or {})


async def ai_settings(db: Executor, user_id: int) -> AISettings:
    row = (
        await db.execute(
            select(UserSettings.ai_style, UserSettings.ai_language).where(UserSettings.user_id == user_id)
        )
    ).one()
    return AISettings(style=row.ai_style, language=row.ai_language)


async def save(session: AsyncSession, user_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(UserSettings).where(UserSettings.user_id == user_id).values(**values, updated_at=utcnow())
    )


def as_dict(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
