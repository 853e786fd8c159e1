"""Accounts: login by username or email, and users made by an admin with a role."""

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.badge.models import User
from keel.apps.badge.schemas import LoginRequest, UserCreate
from keel.core.db import utcnow
from keel.core.errors import Conflict, Unauthorized
from keel.core.security.identity import normalize_email
from keel.core.security.passwords import hash_password, verify_password


async def create_user(session: AsyncSession, data: UserCreate) -> User:
    email = normalize_email(str(data.email))
    taken = select(User.id).where(or_(User.username == data.username, User.email == email))
    if (await session.execute(taken)).first():
        raise Conflict("Username or email already registered")
    user = User(
        username=data.username,
        email=email,
        password_hash=await hash_password(data.password),
        role=data.role.value,
        profile_info=data.profile_info,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("Username or email already registered") from None
    return user


async def authenticate(session: AsyncSession, data: LoginRequest) -> User:
    match = (
        User.username == data.username if data.username else User.email == normalize_email(data.email or "")
    )
    user = (await session.execute(select(User).where(match))).scalar_one_or_none()
    # Verified even without such a user, so the answer takes as long either way.
    if not await verify_password(data.password, user.password_hash if user else None) or user is None:
        raise Unauthorized("Incorrect username, email or password")
    if not user.is_active:
        raise Unauthorized("Account is disabled")
    user.last_login = utcnow()
    return user
