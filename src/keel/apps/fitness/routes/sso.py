from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from keel.apps.fitness.deps import auth
from keel.apps.fitness.schemas import SSOProvider, SSORequest, UserMe
from keel.apps.fitness.services import accounts, sso
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, Unauthorized, error_responses
from keel.core.security.schemas import TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=TransactionalRoute)


class SSOOut(TokenPair):
    user: UserMe
    created: bool


@router.post(
    "/sso/{provider}",
    response_model=SSOOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, ServiceUnavailable),
)
async def sso_sign_in(
    provider: SSOProvider, data: SSORequest, request: Request, session: DbSession
) -> dict[str, Any]:
    """Sign in with Apple or Google (`id_token`) or Facebook (`access_token`). The first
    sign-in makes the account (`created`); an account with the same email is linked when the
    provider has verified the address."""
    # The provider is asked before the database is touched: no connection waits on it.
    identity = await sso.identify(request.app.state.settings, provider, data)
    user, created = await sso.sign_in(session, identity)
    issued = await auth.sign_in(request, session, user.id)
    return {**asdict(issued), "user": await accounts.profile(session, user.id), "created": created}
