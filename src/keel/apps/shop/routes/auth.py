from dataclasses import asdict

from fastapi import APIRouter, Request
from sqlalchemy import select

from keel.apps.shop.deps import CurrentUser, auth
from keel.apps.shop.models import User
from keel.apps.shop.schemas import Message, RegisterOut, Token, UserCreate, UserLogin, UserOut
from keel.apps.shop.services import accounts
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, Unauthorized, error_responses
from keel.core.security.auth import UserRow, request_access_claims, token_service
from keel.core.security.schemas import LogoutRequest, RefreshRequest

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=TransactionalRoute)


def _device(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent[:255] if agent else None


@router.post("/register", status_code=201, response_model=RegisterOut, responses=error_responses(Conflict))
async def register(data: UserCreate, session: DbSession) -> RegisterOut:
    user = await accounts.register(session, data)
    return RegisterOut.of(UserOut.model_validate(user), "User registered successfully")


@router.post("/login", response_model=Token, responses=error_responses(Unauthorized))
async def login(data: UserLogin, request: Request, session: DbSession) -> Token:
    user = await accounts.authenticate(session, str(data.email), data.password)
    issued = await auth.issue(session, token_service(request), user.id, device=_device(request))
    return Token(**asdict(issued), user=UserOut.model_validate(user), message="Login successful")


@router.post("/refresh", response_model=Token, responses=error_responses(Unauthorized))
async def refresh(data: RefreshRequest, request: Request, session: DbSession) -> Token:
    """Trade a refresh token for a new pair; the old refresh token stops working."""
    user_id, issued = await auth.rotate(session, token_service(request), data.refresh_token)
    user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
    return Token(**asdict(issued), user=UserOut.model_validate(user), message="Token refreshed")


@router.post("/logout", response_model=Message, responses=error_responses(Unauthorized))
async def logout(
    request: Request, _user: CurrentUser, session: DbSession, data: LogoutRequest | None = None
) -> Message:
    """Revoke this access token and, when it is sent, the refresh token's whole family."""
    await auth.logout(session, request_access_claims(request), data.refresh_token if data else None)
    return Message(message="Logged out")


@router.get("/me", response_model=UserOut, responses=error_responses(Unauthorized))
async def me(user: CurrentUser) -> UserRow:
    return user
