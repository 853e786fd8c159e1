"""Accounts: registration, password login as the spec answers it, and the profile."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import User
from keel.apps.queue.schemas import ProfileUpdate
from keel.core.db import utcnow
from keel.core.errors import BadRequest, NotFound, Unauthorized
from keel.core.security.identity import normalize_email
from keel.core.security.passwords import hash_password, verify_password

EMAIL_TAKEN = "Email already registered"


async def create_user(session: AsyncSession, email: str, name: str, password: str) -> User:
    user = User(email=normalize_email(email), name=name, hashed_password=await hash_password(password))
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:  # registered concurrently, between the check and the insert
        raise BadRequest(EMAIL_TAKEN) from None
    return user


async def register(session: AsyncSession, email: str, name: str, password: str) -> User:
    """A taken email is a 400, as the spec says (not 409)."""
    email = normalize_email(email)
    if (await session.execute(select(User.id).where(User.email == email))).first():
        raise BadRequest(EMAIL_TAKEN)
    return await create_user(session, email, name, password)


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The spec tells an unknown email (404) from a wrong password (401); that answer reveals
    which emails have accounts, a choice the spec makes and this keeps."""
    user = (
        await session.execute(select(User).where(User.email == normalize_email(email)))
    ).scalar_one_or_none()
    if user is None:
        await verify_password(password, None)
        raise NotFound("No account with this email")
    if not await verify_password(password, user.hashed_password):
        raise Unauthorized("Incorrect password")
    return user


def profile(user: Any) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "avatar_url": user.avatar_url,
        "address": user.address,
        "notification_settings": user.notification_settings,
    }


async def update_profile(session: AsyncSession, user_id: uuid.UUID, data: ProfileUpdate) -> datetime:
    user = await session.get_one(User, user_id)
    changes = data.model_dump(exclude_unset=True, mode="json")
    if "notification_settings" in changes:
        # Merged: the switches not sent keep their value. A new dict, so the JSON column is written.
        sent = data.notification_settings.model_dump(exclude_unset=True) if data.notification_settings else {}
        changes["notification_settings"] = {**user.notification_settings, **sent}
    for field, value in changes.items():
        setattr(user, field, value)
    user.updated_at = utcnow()
    await session.flush()
    return user.updated_at
