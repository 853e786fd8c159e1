from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from keel.apps.badge.deps import Admin, Anyone, auth
from keel.apps.badge.models import User
from keel.apps.badge.schemas import LoginRequest, Message, UserCreate, UserOut
from keel.apps.badge.services import accounts
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, Unauthorized, error_responses
from keel.core.security.auth import request_access_claims, token_service
from keel.core.security.schemas import LogoutRequest, RefreshRequest, TokenPair

router = APIRouter(prefix="/api/v1", tags=["auth"], route_class=TransactionalRoute)


def _device(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent[:255] if agent else None


@router.post("/auth/login", response_model=TokenPair, responses=error_responses(Unauthorized))
async def login(data: LoginRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """`username` or `email`, and `password`."""
    user = await accounts.authenticate(session, data)
    return asdict(await auth.issue(session, token_service(request), user.id, device=_device(request)))


@router.post("/auth/refresh", response_model=TokenPair, responses=error_responses(Unauthorized))
async def refresh(data: RefreshRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """A new pair; the old refresh token stops working, and re-using it revokes its family."""
    _user_id, issued = await auth.rotate(session, token_service(request), data.refresh_token)
    return asdict(issued)


@router.post("/auth/logout", response_model=Message, responses=error_responses(Unauthorized))
async def logout(
    request: Request, principal: Anyone, session: DbSession, data: LogoutRequest | None = None
) -> Message:
    """Revoke this access token (a device's too) and, when sent, the refresh token's family."""
    # A device has no refresh tokens: only its access token is revoked.
    refresh_token = data.refresh_token if data and not principal.is_device else None
    await auth.logout(session, request_access_claims(request), refresh_token)
    return Message(message="Logged out")


@router.get("/users/me", response_model=UserOut, responses=error_responses(Unauthorized, Forbidden))
async def me(principal: Anyone, db: ReadDb) -> Any:
    if principal.is_device:
        raise Forbidden("A device has no user profile")
    return (await db.execute(select(*User.__table__.columns).where(User.id == principal.user_id))).one()


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_user(data: UserCreate, _admin: Admin, session: DbSession) -> User:
    """An account with a role (admin, user or guest); only admins make accounts."""
    return await accounts.create_user(session, data)


@router.get("/users", response_model=list[UserOut], responses=error_responses(Unauthorized, Forbidden))
async def list_users(_admin: Admin, db: ReadDb) -> list[Any]:
    return list((await db.execute(select(*User.__table__.columns).order_by(User.id))).all())
