from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.shop.deps import CurrentUser, auth
from keel.apps.shop.models import User
from keel.apps.shop.schemas import RegisterOut, Token, UserCreate, UserLogin, UserOut
from keel.apps.shop.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, TooManyRequests, Unauthorized, error_responses
from keel.core.ratelimit import throttle_login
from keel.core.security.auth import IssuedTokens, UserRow
from keel.core.security.routes import add_token_routes

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=TransactionalRoute)


@router.post("/register", status_code=201, response_model=RegisterOut, responses=error_responses(Conflict))
async def register(data: UserCreate, session: DbSession) -> RegisterOut:
    user = await accounts.register(session, data)
    return RegisterOut.of(UserOut.model_validate(user), "User registered successfully")


@router.post("/login", response_model=Token, responses=error_responses(Unauthorized, TooManyRequests))
async def login(data: UserLogin, request: Request, response: Response, session: DbSession) -> Token:
    await throttle_login(request, str(data.email), response)
    user = await accounts.authenticate(session, str(data.email), data.password)
    issued = await auth.sign_in(request, session, user.id)
    return Token(**asdict(issued), user=UserOut.model_validate(user), message="Login successful")


async def _refreshed(session: AsyncSession, user_id: Any, issued: IssuedTokens) -> Token:
    # The spec's Token carries the user and a message, on refresh as on login.
    user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
    return Token(**asdict(issued), user=UserOut.model_validate(user), message="Token refreshed")


add_token_routes(router, auth, answer=_refreshed, response_model=Token)


@router.get("/me", response_model=UserOut, responses=error_responses(Unauthorized))
async def me(user: CurrentUser) -> UserRow:
    return user
