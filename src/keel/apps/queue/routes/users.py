from typing import Any

from fastapi import APIRouter

from keel.apps.queue.deps import CurrentUser
from keel.apps.queue.schemas import ProfileOut, ProfileUpdate, ProfileUpdated
from keel.apps.queue.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Unauthorized, error_responses

router = APIRouter(prefix="/users", tags=["users"], route_class=TransactionalRoute)


@router.get("/profile", response_model=ProfileOut, responses=error_responses(Unauthorized))
async def get_profile(user: CurrentUser) -> dict[str, Any]:
    return accounts.profile(user)


@router.put("/profile", response_model=ProfileUpdated, responses=error_responses(Unauthorized))
async def update_profile(data: ProfileUpdate, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Any of name, avatar_url, address and notification_settings, whose switches are merged:
    those not sent keep their value."""
    updated_at = await accounts.update_profile(session, user.id, data)
    return {"message": "個人資料更新成功", "updated_at": updated_at}
