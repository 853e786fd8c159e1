from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.deps import auth
from keel.apps.queue.schemas import AuthOut, LoginRequest, RefreshOut, RegisterRequest
from keel.apps.queue.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import BadRequest, NotFound, TooManyRequests, Unauthorized, error_responses
from keel.core.ratelimit import throttle_login
from keel.core.security.auth import IssuedTokens
from keel.core.security.routes import add_token_routes

router = APIRouter(prefix="/auth", tags=["auth"], route_class=TransactionalRoute)


def _tokens(issued: IssuedTokens) -> dict[str, Any]:
    # The spec's `token` is the access token; the refresh token rides beside it.
    return {
        "token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "expires_in": issued.expires_in,
    }


@router.post("/register", status_code=201, response_model=AuthOut, responses=error_responses(BadRequest))
async def register(data: RegisterRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """A taken email is a 400, as the spec has it."""
    user = await accounts.register(session, str(data.email), data.name, data.password)
    return {"user": user, **_tokens(await auth.sign_in(request, session, user.id))}


@router.post(
    "/login", response_model=AuthOut, responses=error_responses(Unauthorized, NotFound, TooManyRequests)
)
async def login(
    data: LoginRequest, request: Request, response: Response, session: DbSession
) -> dict[str, Any]:
    """404 for an unknown email, 401 for a wrong password (the spec tells them apart)."""
    await throttle_login(request, str(data.email), response)
    user = await accounts.authenticate(session, str(data.email), data.password)
    return {"user": user, **_tokens(await auth.sign_in(request, session, user.id))}


async def _refreshed(_session: AsyncSession, _user_id: Any, issued: IssuedTokens) -> dict[str, Any]:
    return _tokens(issued)


add_token_routes(router, auth, answer=_refreshed, response_model=RefreshOut)
