from fastapi import APIRouter

from keel.apps.shop.deps import AdminUser, CurrentUser
from keel.apps.shop.models import User
from keel.apps.shop.schemas import UserProfile, UserProfileUpdate
from keel.apps.shop.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, error_responses
from keel.core.params import IntId
from keel.core.security.auth import UserRow

router = APIRouter(prefix="/api/users", tags=["users"], route_class=TransactionalRoute)


@router.get("/me/profile", response_model=UserProfile, responses=error_responses(Unauthorized))
async def get_profile(user: CurrentUser) -> UserRow:
    return user


@router.put("/me/profile", response_model=UserProfile, responses=error_responses(Unauthorized, Conflict))
async def update_profile(data: UserProfileUpdate, user: CurrentUser, session: DbSession) -> User:
    return await accounts.update_profile(session, user.id, data)


@router.get(
    "/{user_id}",
    response_model=UserProfile,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
    summary="A customer's profile, for an admin",
)
async def get_user(user_id: IntId, _admin: AdminUser, session: DbSession) -> User:
    """The back office's look at who placed an order: the profile, with the default address."""
    return await accounts.get_user(session, user_id)
