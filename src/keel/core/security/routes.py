"""The token endpoints, the same in every app: `POST <prefix>/refresh` and `POST <prefix>/logout`.
An app adds them to its own auth router (the prefix its spec gives) and keeps its own register
and login, whose bodies its spec defines; `answer` shapes a refresh's answer where the spec names
the fields its own way."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.params import Depends as Dependency
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.db import DbSession
from keel.core.errors import TooManyRequests, Unauthorized, error_responses
from keel.core.ratelimit import client_address
from keel.core.schemas import Message
from keel.core.security.auth import Authenticator, IssuedTokens, token_service
from keel.core.security.schemas import LogoutRequest, RefreshRequest, TokenPair
from keel.core.security.tokens import AccessClaims

# What a refresh answers: the user it signed in (their id) and the new pair -> the body.
RefreshAnswer = Callable[[AsyncSession, Any, IssuedTokens], Awaitable[Any]]
ClaimsDependency = Callable[..., Awaitable[AccessClaims | None]]


async def token_pair(_session: AsyncSession, _user_id: Any, issued: IssuedTokens) -> dict[str, Any]:
    return asdict(issued)


def add_token_routes(
    router: APIRouter,
    auth: Authenticator,
    *,
    prefix: str = "",
    answer: RefreshAnswer = token_pair,
    response_model: Any = TokenPair,
    refresh_dependencies: Sequence[Dependency] = (),
    claims: ClaimsDependency | None = None,
) -> None:
    """Refresh and logout on `router`, under `prefix` (after the router's own). `answer` and
    `response_model` shape the refresh's answer; `refresh_dependencies` add its rate limits.
    `claims` finds the access token's claims for logout where the app signs in more than
    users (badge's devices); by default, `auth.optional_claims`."""
    Claims = Annotated[AccessClaims | None, Depends(claims or auth.optional_claims)]

    async def refresh(data: RefreshRequest, request: Request, session: DbSession) -> Any:
        """A new pair for a refresh token. The token sent stops working: sent again within
        KEEL_REFRESH_REUSE_SECONDS (a retry) it answers another pair of the same login; later, it
        signs out every device that descends from that login."""
        user_id, issued = await auth.rotate(
            session, token_service(request), data.refresh_token, ip_address=client_address(request)
        )
        return await answer(session, user_id, issued)

    async def logout(session: DbSession, access: Claims, data: LogoutRequest | None = None) -> Message:
        """Sign out with the access token, the refresh token, or both: the access token is
        revoked and the refresh token's login (every token rotated from it) ends. A refresh
        token alone is enough, so an expired access token does not keep a login alive."""
        await auth.logout(session, access, data.refresh_token if data else None)
        return Message(message="Logged out")

    router.add_api_route(
        f"{prefix}/refresh",
        refresh,
        methods=["POST"],
        response_model=response_model,
        responses=error_responses(Unauthorized, *((TooManyRequests,) if refresh_dependencies else ())),
        dependencies=list(refresh_dependencies),
    )
    router.add_api_route(
        f"{prefix}/logout",
        logout,
        methods=["POST"],
        response_model=Message,
        responses=error_responses(Unauthorized),
    )
