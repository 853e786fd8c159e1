"""Accounts: registration by email or phone, password login, the profile, signed-in devices."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import Session, Target, User, UserSettings
from keel.apps.coach.schemas import RegisterRequest, UserUpdate
from keel.core.db import utcnow
from keel.core.errors import Conflict, Unauthorized
from keel.core.security.identity import normalize_email
from keel.core.security.passwords import hash_password, verify_password


async def create_user(session: AsyncSession, data: RegisterRequest) -> User:
    """The user with default targets and settings, in the caller's transaction."""
    email = normalize_email(str(data.email)) if data.email else None
    taken = []
    if email and (await session.execute(select(User.id).where(User.email == email))).first():
        taken.append("Email")
    if data.phone and (await session.execute(select(User.id).where(User.phone == data.phone))).first():
        taken.append("Phone number")
    if taken:
        raise Conflict(f"{' and '.join(taken)} already registered")
    user = User(
        email=email,
        phone=data.phone,
        hashed_password=await hash_password(data.password),
        display_name=data.display_name,
        timezone=data.timezone,
        privacy_policy_version=data.privacy_policy_version,
        privacy_accepted_at=utcnow(),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:  # registered by a concurrent request since the check
        raise Conflict("Email or phone number already registered") from None
    session.add_all([Target(user_id=user.id), UserSettings(user_id=user.id)])
    await session.flush()
    return user


async def authenticate(session: AsyncSession, email: str | None, phone: str | None, password: str) -> User:
    condition = User.email == normalize_email(email) if email else User.phone == phone
    user = (await session.execute(select(User).where(condition))).scalar_one_or_none()
    # Verified even without such a user, so the answer takes as long either way.
    if not await verify_password(password, user.hashed_password if user else None) or user is None:
        raise Unauthorized("Incorrect login or password")
    if not user.is_active:
        raise Unauthorized("Account is disabled")
    return user


async def update_profile(session: AsyncSession, user_id: int, data: UserUpdate) -> User:
    user = await session.get_one(User, user_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(user, field, value)
    await session.flush()
    return user


async def sessions_of(session: AsyncSession, user_id: int, current: str | None) -> list[dict[str, Any]]:
    """The user's signed-in devices, most recently used first."""
    rows = (
        await session.execute(
            select(Session)
            .where(Session.user_id == user_id, Session.revoked_at.is_(None), Session.expires_at > utcnow())
            .order_by(Session.last_used_at.desc())
        )
    ).scalars()
    return [
        {
            "id": row.id,
            "device": row.device,
            "ip_address": row.ip_address,
            "created_at": row.created_at,
            "last_used_at": row.last_used_at,
            "expires_at": row.expires_at,
            "current": row.id == current,
        }
        for row in rows
    ]
