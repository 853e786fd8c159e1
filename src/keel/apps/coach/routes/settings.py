from typing import Any

from fastapi import APIRouter, Request

from keel.apps.coach.deps import CurrentUser, ReadLimit, WriteLimit
from keel.apps.coach.schemas import AISettings, Notifications, Targets, TargetsUpdate
from keel.apps.coach.services import preferences, reminders
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/settings", tags=["settings"], route_class=TransactionalRoute)
_errors = error_responses(Unauthorized)


@router.get("/targets", response_model=Targets, responses=_errors, dependencies=[ReadLimit])
async def get_targets(user: CurrentUser, db: ReadDb) -> dict[str, Any]:
    return await preferences.targets(db, user.id)


@router.put("/targets", response_model=Targets, responses=_errors, dependencies=[WriteLimit])
async def put_targets(data: TargetsUpdate, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """The targets sent change; the others stay (a flat object of numbers)."""
    return await preferences.set_targets(session, user.id, data.model_dump(exclude_unset=True))


@router.get("/notifications", response_model=Notifications, responses=_errors, dependencies=[ReadLimit])
async def get_notifications(user: CurrentUser, db: ReadDb) -> Notifications:
    return await preferences.notifications(db, user.id)


@router.put("/notifications", response_model=Notifications, responses=_errors, dependencies=[WriteLimit])
async def put_notifications(
    data: Notifications, request: Request, user: CurrentUser, session: DbSession
) -> Notifications:
    """The whole reminder settings; fields left out take their defaults. Enabled reminders are
    scheduled at their next local time; a switched-off one stops."""
    await preferences.save(session, user.id, {"notifications": preferences.as_dict(data)})
    await reminders.schedule(session, user.id, request)
    return data


@router.get("/ai", response_model=AISettings, responses=_errors, dependencies=[ReadLimit])
async def get_ai(user: CurrentUser, db: ReadDb) -> AISettings:
    return await preferences.ai_settings(db, user.id)


@router.put("/ai", response_model=AISettings, responses=_errors, dependencies=[WriteLimit])
async def put_ai(data: AISettings, user: CurrentUser, session: DbSession) -> AISettings:
    """The AI's style (gentle, direct, data) and language for reviews, plans and summaries."""
    await preferences.save(session, user.id, {"ai_style": data.style.value, "ai_language": data.language})
    return data
