from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response

from keel.apps.fitness.deps import auth
from keel.apps.fitness.schemas import LoginRequest, RegisterRequest, UserMe
from keel.apps.fitness.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, TooManyRequests, Unauthorized, error_responses
from keel.core.ratelimit import throttle_login
from keel.core.security.routes import add_token_routes
from keel.core.security.schemas import TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=TransactionalRoute)


class RegisterOut(TokenPair):
    user: UserMe


@router.post("/register", status_code=201, response_model=RegisterOut, responses=error_responses(Conflict))
async def register(data: RegisterRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """Email and password; answers the new user, signed in."""
    user = await accounts.register(session, data)
    issued = await auth.sign_in(request, session, user.id)
    return {**asdict(issued), "user": await accounts.profile(session, user.id)}


@router.post("/login", response_model=TokenPair, responses=error_responses(Unauthorized, TooManyRequests))
async def login(
    data: LoginRequest, request: Request, response: Response, session: DbSession
) -> dict[str, Any]:
    await throttle_login(request, str(data.email), response)
    user = await accounts.authenticate(session, str(data.email), data.password)
    return asdict(await auth.sign_in(request, session, user.id))


add_token_routes(router, auth)
