from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response

from keel.apps.coach.deps import (
    LOGIN_PER_ACCOUNT,
    LOGIN_PER_ADDRESS,
    CurrentUser,
    RefreshLimit,
    RegisterLimit,
    auth,
)
from keel.apps.coach.schemas import LoginRequest, Message, RegisterOut, RegisterRequest, UserOut
from keel.apps.coach.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, TooManyRequests, Unauthorized, error_responses
from keel.core.ratelimit import client_address, enforce
from keel.core.security.auth import request_access_claims, token_service
from keel.core.security.identity import normalize_email
from keel.core.security.schemas import LogoutRequest, RefreshRequest, TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=TransactionalRoute)


def _device(request: Request, given: str | None) -> str | None:
    device = given or request.headers.get("user-agent")
    return device[:255] if device else None


@router.post(
    "/register",
    status_code=201,
    response_model=RegisterOut,
    responses=error_responses(Conflict, TooManyRequests),
    dependencies=[RegisterLimit],
)
async def register(data: RegisterRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """By email or phone number, with the privacy policy version the user accepted; answers
    the new user, signed in."""
    user = await accounts.create_user(session, data)
    issued = await auth.issue(
        session,
        token_service(request),
        user.id,
        device=_device(request, data.device),
        ip_address=client_address(request),
    )
    return {**asdict(issued), "user": UserOut.model_validate(user)}


@router.post("/login", response_model=TokenPair, responses=error_responses(Unauthorized, TooManyRequests))
async def login(
    data: LoginRequest, request: Request, response: Response, session: DbSession
) -> dict[str, Any]:
    """Throttled per account and per address, so guessing passwords is slow either way."""
    account = normalize_email(str(data.email)) if data.email else data.phone
    await enforce(request, f"login:ip:{client_address(request)}", LOGIN_PER_ADDRESS)
    await enforce(request, f"login:account:{account}", LOGIN_PER_ACCOUNT, response)
    user = await accounts.authenticate(
        session, str(data.email) if data.email else None, data.phone, data.password
    )
    issued = await auth.issue(
        session,
        token_service(request),
        user.id,
        device=_device(request, data.device),
        ip_address=client_address(request),
    )
    return asdict(issued)


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=error_responses(Unauthorized, TooManyRequests),
    dependencies=[RefreshLimit],
)
async def refresh(data: RefreshRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """A new pair for a refresh token; the old one stops working, and re-using it signs the
    device out."""
    _user_id, issued = await auth.rotate(
        session, token_service(request), data.refresh_token, ip_address=client_address(request)
    )
    return asdict(issued)


@router.post("/logout", response_model=Message, responses=error_responses(Unauthorized))
async def logout(
    request: Request, _user: CurrentUser, session: DbSession, data: LogoutRequest | None = None
) -> Message:
    """Sign this device out: its access token and its refresh tokens stop working."""
    await auth.logout(session, request_access_claims(request), data.refresh_token if data else None)
    return Message(message="Logged out")
