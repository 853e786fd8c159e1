from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from keel.apps.badge.deps import Admin, Anyone, Signature, SignedAt, auth, current_principal
from keel.apps.badge.models import User
from keel.apps.badge.schemas import LoginRequest, UserCreate, UserOut
from keel.apps.badge.services import accounts
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, TooManyRequests, Unauthorized, error_responses
from keel.core.ratelimit import throttle_login
from keel.core.security.auth import BearerCredentials, request_access_claims
from keel.core.security.routes import add_token_routes
from keel.core.security.schemas import TokenPair
from keel.core.security.tokens import AccessClaims

router = APIRouter(prefix="/api/v1", tags=["auth"], route_class=TransactionalRoute)


@router.post(
    "/auth/login", response_model=TokenPair, responses=error_responses(Unauthorized, TooManyRequests)
)
async def login(
    data: LoginRequest, request: Request, response: Response, session: DbSession
) -> dict[str, Any]:
    """`username` or `email`, and `password`."""
    await throttle_login(request, str(data.username or data.email), response)
    user = await accounts.authenticate(session, data)
    return asdict(await auth.sign_in(request, session, user.id))


async def _caller_claims(
    request: Request, credentials: BearerCredentials, timestamp: SignedAt = None, signature: Signature = None
) -> AccessClaims | None:
    # A device signs out its own (signed) access token too; it has no refresh tokens.
    try:
        await current_principal(request, credentials, timestamp, signature)
    except Unauthorized:
        return None
    return request_access_claims(request)


add_token_routes(router, auth, prefix="/auth", claims=_caller_claims)


@router.get("/users/me", response_model=UserOut, responses=error_responses(Unauthorized, Forbidden))
async def me(principal: Anyone, db: ReadDb) -> Any:
    if principal.is_device:
        raise Forbidden("A device has no user profile")
    return (await db.execute(select(*User.__table__.columns).where(User.id == principal.user_id))).one()


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_user(data: UserCreate, _admin: Admin, session: DbSession) -> User:
    """An account with a role (admin, user or guest); only admins make accounts."""
    return await accounts.create_user(session, data)


@router.get("/users", response_model=list[UserOut], responses=error_responses(Unauthorized, Forbidden))
async def list_users(_admin: Admin, db: ReadDb) -> list[Any]:
    return list((await db.execute(select(*User.__table__.columns).order_by(User.id))).all())
