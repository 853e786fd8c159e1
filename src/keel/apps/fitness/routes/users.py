from typing import Any

from fastapi import APIRouter, Request, Response

from keel.apps.fitness.deps import CurrentUser, auth
from keel.apps.fitness.schemas import (
    AccountDeletion,
    AccountExport,
    SSORequest,
    UserMe,
    UserStatUpdate,
    UserUpdate,
)
from keel.apps.fitness.services import account_data, accounts, sso
from keel.core.db import DbSession, TransactionalRoute, after_commit
from keel.core.errors import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    error_responses,
)
from keel.core.ratelimit import Rate, rate_limit
from keel.core.security.auth import request_access_claims
from keel.core.storage import Storage

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=TransactionalRoute)

# Per user, spent before the password is checked: whoever holds a stolen access token gets 5
# guesses at the password every 15 minutes, as many as a person who mistypes it ever needs.
DELETION_ATTEMPTS = Rate(5, 15 * 60)


@router.get("/me", response_model=UserMe, responses=error_responses(Unauthorized))
async def me(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """The profile with its running totals (UserStat)."""
    return await accounts.profile(session, user.id)


@router.get("/me/export", response_model=AccountExport, responses=error_responses(Unauthorized))
async def export_me(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Everything the account holds, as JSON: every field of the profile (not the password
    hash), the totals, the providers it signs in with, and every session with its metrics and
    points as stored."""
    return await account_data.export(session, user.id)


@router.delete(
    "/me",
    status_code=204,
    response_class=Response,
    dependencies=[rate_limit("users.delete", DELETION_ATTEMPTS)],
    responses=error_responses(
        Unauthorized, Forbidden, NotFound, Unprocessable, TooManyRequests, ServiceUnavailable
    ),
)
async def delete_me(
    data: AccountDeletion, request: Request, user: CurrentUser, session: DbSession, storage: Storage
) -> None:
    """Delete the account and everything it holds: sessions, totals, avatar, linked providers;
    every token stops working. Confirmed with `password`, or for an account made by signing in
    with a provider (no password), with `provider` and a token it issued in the last 5 minutes
    (`id_token`; `access_token` for Facebook). A wrong confirmation is 403: the request's own
    token is good, so a 401 would send the app to sign in again."""
    identity = None
    if data.password is None and data.provider is not None:
        # The provider is asked before the database is touched: no connection waits on it.
        token = SSORequest(id_token=data.id_token, access_token=data.access_token)
        try:
            identity = await sso.identify(request.app.state.settings, data.provider, token)
        except Unauthorized as refused:  # a bad confirmation, not a signed-out request
            raise Forbidden(refused.detail) from None
    elif data.password is None:
        raise Unprocessable("Send the account's password, or a provider and its token", loc=("body",))
    avatar = await account_data.delete_account(session, user.id, data, identity)
    # Refresh tokens went with the user; this access token is revoked by its id as well, so it
    # is refused even by an account that gets the same id later within the same second.
    await auth.logout(session, request_access_claims(request))
    if avatar is not None:
        after_commit(request, lambda: storage.remove(avatar))


@router.patch("/me", response_model=UserMe, responses=error_responses(Unauthorized))
async def update_me(data: UserUpdate, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Display name, gender (m, f, o), height 50-272 cm, weight 20-400 kg, time zone."""
    return await accounts.update_profile(session, user.id, data)


@router.patch("/me/stats", response_model=UserMe, responses=error_responses(Unauthorized))
async def overwrite_stats(data: UserStatUpdate, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """The app's totals overwrite the server's, as the spec says."""
    return await accounts.overwrite_stats(session, user.id, data)
