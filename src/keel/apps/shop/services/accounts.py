"""Registration, login, the profile, and an admin's look at a customer."""

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.shop.models import User, username_key
from keel.apps.shop.schemas import UserCreate, UserProfileUpdate
from keel.core.errors import Conflict, NotFound, Unauthorized
from keel.core.security.identity import normalize_email
from keel.core.security.passwords import hash_password, verify_password

_USERNAME_TAKEN = "Username already taken"


async def _taken(
    session: AsyncSession,
    *,
    username: str | None = None,
    email: str | None = None,
    exclude_id: int | None = None,
) -> str | None:
    conditions = []
    if username is not None:
        # By the unique key: "Mei", "mei" and fullwidth "Ｍｅｉ" are one name.
        conditions.append(User.username_key == username_key(username))
    if email is not None:
        conditions.append(User.email == email)
    statement = select(User.username, User.email).where(or_(*conditions))
    if exclude_id is not None:
        statement = statement.where(User.id != exclude_id)
    row = (await session.execute(statement.limit(1))).first()
    if row is None:
        return None
    return "Email already registered" if email is not None and row.email == email else _USERNAME_TAKEN


async def register(session: AsyncSession, data: UserCreate, *, is_admin: bool = False) -> User:
    email = normalize_email(str(data.email))
    if problem := await _taken(session, username=data.username, email=email):
        raise Conflict(problem)
    user = User(
        username=data.username,
        email=email,
        hashed_password=await hash_password(data.password),
        is_admin=is_admin,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # Lost a race with a simultaneous registration of the same name or email.
        raise Conflict("Email or username already registered") from None
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    user = (
        await session.execute(select(User).where(User.email == normalize_email(email)))
    ).scalar_one_or_none()
    # Verify even when there is no such user, so the answer takes as long either way.
    if not await verify_password(password, user.hashed_password if user else None) or user is None:
        raise Unauthorized("Incorrect email or password")
    if not user.is_active:
        raise Unauthorized("Account is disabled")
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    """For the back office: who placed an order (orders carry only the buyer's id)."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


async def update_profile(session: AsyncSession, user_id: int, data: UserProfileUpdate) -> User:
    user = await session.get_one(User, user_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    # A new spelling of one's own name ("mei" to "Mei") is no change of name.
    renamed = changes.get("username") is not None and username_key(changes["username"]) != user.username_key
    if renamed and await _taken(session, username=changes["username"], exclude_id=user.id):
        raise Conflict(_USERNAME_TAKEN)
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(_USERNAME_TAKEN) from None
    await session.refresh(user)
    return user
