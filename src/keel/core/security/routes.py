"""The endpoints the same in every app: the token ones (`POST <prefix>/refresh` and `POST
<prefix>/logout`) and the password ones (reset by a mailed code, change).
An app adds them to its own auth router (the prefix its spec gives) and keeps its own register
and login, whose bodies its spec defines; `answer` shapes a refresh's answer where the spec names
the fields its own way."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.params import Depends as Dependency
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.db import DbSession
from keel.core.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized, error_responses
from keel.core.ratelimit import client_address
from keel.core.schemas import Message
from keel.core.security.auth import Authenticator, IssuedTokens, request_access_claims, token_service
from keel.core.security.password_reset import Passwords
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


PASSWORD_RESET_REQUESTED = "If an account exists for this email, a reset code has been sent to it"


def add_password_routes(
    router: APIRouter,
    passwords: Passwords,
    *,
    mail: Any,
    reset_request_body: type[BaseModel],
    reset_body: type[BaseModel],
    prefix: str = "/password",
    reset_dependencies: Sequence[Dependency] = (),
    change_body: type[BaseModel] | None = None,
    current_user: Any = None,
    change_dependencies: Sequence[Dependency] = (),
) -> None:
    """Password reset by a mailed code (`<prefix>/request-reset`, `<prefix>/reset`) on `router`,
    and with `change_body` and `current_user` the signed-in change (`<prefix>/change`). `mail` is
    the app's Mailer dependency; the bodies are the app's, whose password rules they carry; the
    dependency lists add rate limits."""
    Mail = mail
    ResetRequestBody = reset_request_body
    ResetBody = reset_body

    async def request_reset(
        data: ResetRequestBody, request: Request, session: DbSession, mailer: Mail
    ) -> Message:
        """Mail a 6-digit code, valid 15 minutes. The answer is the same whether the account
        exists, and whether the request was throttled (3 codes per 15 minutes, one a minute)."""
        await passwords.request_reset(session, mailer, str(data.email), secret=_secret(request))
        return Message(message=PASSWORD_RESET_REQUESTED)

    async def reset(data: ResetBody, request: Request, session: DbSession) -> Message:
        """Set a new password with the mailed code; every device of the account is signed out.
        A code dies after 5 wrong tries."""
        await passwords.reset(
            session,
            str(data.email),
            data.code,
            data.new_password,
            secret=_secret(request),
        )
        return Message(message="Password has been reset")

    limited = (TooManyRequests,) if reset_dependencies else ()
    router.add_api_route(
        f"{prefix}/request-reset",
        request_reset,
        methods=["POST"],
        status_code=202,
        response_model=Message,
        responses=error_responses(*limited),
        dependencies=list(reset_dependencies),
    )
    router.add_api_route(
        f"{prefix}/reset",
        reset,
        methods=["POST"],
        response_model=Message,
        responses=error_responses(BadRequest, *limited),
        dependencies=list(reset_dependencies),
    )
    if change_body is None:
        return
    ChangeBody = change_body
    User = current_user

    async def change(data: ChangeBody, request: Request, user: User, session: DbSession) -> Message:
        """Set a new password with the current one (403 when it is wrong); every other device is
        signed out, this one stays signed in."""
        keep = request_access_claims(request).extra.get("sid")
        await passwords.change(session, user.id, data.current_password, data.new_password, keep=keep)
        return Message(message="Password has been changed")

    router.add_api_route(
        f"{prefix}/change",
        change,
        methods=["POST"],
        response_model=Message,
        responses=error_responses(
            Unauthorized, Forbidden, *((TooManyRequests,) if change_dependencies else ())
        ),
        dependencies=list(change_dependencies),
    )


def _secret(request: Request) -> str:
    return request.app.state.settings.secret_key
