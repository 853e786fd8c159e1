from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from keel.apps.fitness.deps import CurrentUser, auth
from keel.apps.fitness.schemas import LoginRequest, Message, RegisterRequest, UserMe
from keel.apps.fitness.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, Unauthorized, error_responses
from keel.core.security.auth import request_access_claims, token_service
from keel.core.security.schemas import LogoutRequest, RefreshRequest, TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=TransactionalRoute)


class RegisterOut(TokenPair):
    user: UserMe


def _device(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent[:255] if agent else None


@router.post("/register", status_code=201, response_model=RegisterOut, responses=error_responses(Conflict))
async def register(data: RegisterRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """Email and password; answers the new user, signed in."""
    user = await accounts.register(session, data)
    issued = await auth.issue(session, token_service(request), user.id, device=_device(request))
    return {**asdict(issued), "user": await accounts.profile(session, user.id)}


@router.post("/login", response_model=TokenPair, responses=error_responses(Unauthorized))
async def login(data: LoginRequest, request: Request, session: DbSession) -> dict[str, Any]:
    user = await accounts.authenticate(session, str(data.email), data.password)
    return asdict(await auth.issue(session, token_service(request), user.id, device=_device(request)))


@router.post("/refresh", response_model=TokenPair, responses=error_responses(Unauthorized))
async def refresh(data: RefreshRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """A new pair for a refresh token; the old one stops working, and re-using it signs out
    every device that descends from the same login."""
    _user_id, issued = await auth.rotate(session, token_service(request), data.refresh_token)
    return asdict(issued)


@router.post("/logout", response_model=Message, responses=error_responses(Unauthorized))
async def logout(
    request: Request, _user: CurrentUser, session: DbSession, data: LogoutRequest | None = None
) -> Message:
    """Revoke this access token and, when it is sent, the refresh token's whole family."""
    await auth.logout(session, request_access_claims(request), data.refresh_token if data else None)
    return Message(message="Logged out")
