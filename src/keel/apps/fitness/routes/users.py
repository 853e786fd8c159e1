from typing import Any

from fastapi import APIRouter

from keel.apps.fitness.deps import CurrentUser
from keel.apps.fitness.schemas import UserMe, UserStatUpdate, UserUpdate
from keel.apps.fitness.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=TransactionalRoute)


@router.get("/me", response_model=UserMe, responses=error_responses(Unauthorized))
async def me(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """The profile with its running totals (UserStat)."""
    return await accounts.profile(session, user.id)


@router.patch("/me", response_model=UserMe, responses=error_responses(Unauthorized))
async def update_me(data: UserUpdate, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Display name, gender (m, f, o), height 50-272 cm, weight 20-400 kg, time zone."""
    return await accounts.update_profile(session, user.id, data)


@router.patch("/me/stats", response_model=UserMe, responses=error_responses(Unauthorized))
async def overwrite_stats(data: UserStatUpdate, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """The app's totals overwrite the server's, as the spec says."""
    return await accounts.overwrite_stats(session, user.id, data)
