"""Accounts: registration, password login, the profile and its running totals."""

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import User, UserStat
from keel.apps.fitness.schemas import RegisterRequest, UserStatUpdate, UserUpdate
from keel.apps.fitness.services import stats
from keel.core.db import utcnow
from keel.core.errors import Conflict, Unauthorized, Unprocessable
from keel.core.security.identity import normalize_email
from keel.core.security.passwords import hash_password, verify_password


async def create_user(session: AsyncSession, email: str, display_name: str, password: str | None) -> User:
    """A user and their (empty) running totals, in the caller's transaction."""
    user = User(
        email=normalize_email(email),
        display_name=display_name,
        hashed_password=await hash_password(password) if password is not None else None,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("Email already registered") from None
    session.add(UserStat(user_id=user.id))
    await session.flush()
    return user


async def register(session: AsyncSession, data: RegisterRequest) -> User:
    email = normalize_email(str(data.email))
    if (await session.execute(select(User.id).where(User.email == email))).first():
        raise Conflict("Email already registered")
    return await create_user(session, email, data.display_name, data.password)


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    user = (
        await session.execute(select(User).where(User.email == normalize_email(email)))
    ).scalar_one_or_none()
    # Verify even without such a user (or a password), so the answer takes as long either way.
    hashed = user.hashed_password if user else None
    if not await verify_password(password, hashed) or user is None:
        raise Unauthorized("Incorrect email or password")
    if not user.is_active:
        raise Unauthorized("Account is disabled")
    return user


async def profile(session: AsyncSession, user_id: int) -> dict[str, Any]:
    """The user with their totals, as `UserMe` reads it."""
    user = await session.get_one(User, user_id)
    stats = await session.get_one(UserStat, user_id)
    return {**_fields(user), "stats": stats}


def _fields(user: User) -> dict[str, Any]:
    return {column.key: getattr(user, column.key) for column in User.__table__.columns}


async def update_profile(session: AsyncSession, user_id: int, data: UserUpdate) -> dict[str, Any]:
    changes = data.model_dump(exclude_unset=True)
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise Unprocessable(
                f"Unknown time zone {changes['timezone']!r}", loc=("body", "timezone")
            ) from None
    user = await session.get_one(User, user_id)
    moved = "timezone" in changes and changes["timezone"] != user.timezone
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    if moved:
        await stats.rebuild_days(session, user_id)
    return await profile(session, user_id)


async def overwrite_stats(session: AsyncSession, user_id: int, data: UserStatUpdate) -> dict[str, Any]:
    """The app's totals replace the server's (spec 4.2): the phone is the source of truth, and
    sessions it recorded before now are not added to them again when they arrive."""
    changes = data.model_dump(exclude_unset=True)
    if changes:
        await stats.overwrite(session, user_id, changes, utcnow())
    return await profile(session, user_id)
