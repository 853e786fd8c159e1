from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from keel.apps.queue.deps import auth
from keel.apps.queue.schemas import AuthOut, LoginRequest, RefreshOut, RegisterRequest
from keel.apps.queue.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import BadRequest, NotFound, Unauthorized, error_responses
from keel.core.security.auth import IssuedTokens, token_service
from keel.core.security.schemas import RefreshRequest

router = APIRouter(prefix="/auth", tags=["auth"], route_class=TransactionalRoute)


def _device(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent[:255] if agent else None


def _tokens(issued: IssuedTokens) -> dict[str, Any]:
    # The spec's `token` is the access token; the refresh token rides beside it.
    fields = asdict(issued)
    return {
        "token": fields["access_token"],
        "refresh_token": fields["refresh_token"],
        "expires_in": fields["expires_in"],
    }


@router.post("/register", status_code=201, response_model=AuthOut, responses=error_responses(BadRequest))
async def register(data: RegisterRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """A taken email is a 400, as the spec has it."""
    user = await accounts.register(session, str(data.email), data.name, data.password)
    issued = await auth.issue(session, token_service(request), user.id, device=_device(request))
    return {"user": user, **_tokens(issued)}


@router.post("/login", response_model=AuthOut, responses=error_responses(Unauthorized, NotFound))
async def login(data: LoginRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """404 for an unknown email, 401 for a wrong password (the spec tells them apart)."""
    user = await accounts.authenticate(session, str(data.email), data.password)
    issued = await auth.issue(session, token_service(request), user.id, device=_device(request))
    return {"user": user, **_tokens(issued)}


@router.post("/refresh", response_model=RefreshOut, responses=error_responses(Unauthorized))
async def refresh(data: RefreshRequest, request: Request, session: DbSession) -> dict[str, Any]:
    """A new token pair; the refresh token sent stops working, and sending it again signs out
    every device that descends from the same login."""
    _user_id, issued = await auth.rotate(session, token_service(request), data.refresh_token)
    return _tokens(issued)
