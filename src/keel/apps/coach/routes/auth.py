from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response

from keel.apps.coach.deps import RefreshLimit, RegisterLimit, auth
from keel.apps.coach.schemas import LoginRequest, RegisterOut, RegisterRequest, UserOut
from keel.apps.coach.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, TooManyRequests, Unauthorized, error_responses
from keel.core.ratelimit import throttle_login
from keel.core.security.identity import normalize_email
from keel.core.security.routes import add_token_routes
from keel.core.security.schemas import TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=TransactionalRoute)


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
    issued = await auth.sign_in(request, session, user.id, device=data.device)
    return {**asdict(issued), "user": UserOut.model_validate(user)}


@router.post("/login", response_model=TokenPair, responses=error_responses(Unauthorized, TooManyRequests))
async def login(
    data: LoginRequest, request: Request, response: Response, session: DbSession
) -> dict[str, Any]:
    """Throttled per account and per address, so guessing passwords is slow either way."""
    account = normalize_email(str(data.email)) if data.email else str(data.phone)
    await throttle_login(request, account, response)
    user = await accounts.authenticate(
        session, str(data.email) if data.email else None, data.phone, data.password
    )
    return asdict(await auth.sign_in(request, session, user.id, device=data.device))


add_token_routes(router, auth, refresh_dependencies=[RefreshLimit])
