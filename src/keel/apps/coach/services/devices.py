"""The devices a user's reminders are pushed to: push tokens, registered idempotently."""

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import PushToken
from keel.core.db import Executor, utcnow
from keel.core.errors import NotFound
from keel.core.sql import insert_skipping_duplicates

_COLUMNS = (PushToken.token, PushToken.platform, PushToken.created_at, PushToken.updated_at)


async def register(
    session: AsyncSession, user_id: int, token: str, platform: str
) -> tuple[dict[str, Any], bool]:
    """Store the token for this user; answers it and whether it is new to them. A token another
    account registered moves to this one: it names a device, now signed in as this user."""
    owner = await session.scalar(select(PushToken.user_id).where(PushToken.token == token))
    now = utcnow()
    # Two first registrations of one token at once: the second inserts nothing and updates.
    inserted = await session.execute(
        insert_skipping_duplicates(session, PushToken.__table__, ["token"]).values(
            user_id=user_id, token=token, platform=platform, created_at=now, updated_at=now
        )
    )
    if inserted.rowcount != 1:
        await session.execute(
            update(PushToken)
            .where(PushToken.token == token)
            .values(user_id=user_id, platform=platform, updated_at=now)
        )
    row = (await session.execute(select(*_COLUMNS).where(PushToken.token == token))).one()
    return dict(row._mapping), owner != user_id


async def of_user(db: Executor, user_id: int) -> list[dict[str, Any]]:
    rows = await db.execute(select(*_COLUMNS).where(PushToken.user_id == user_id).order_by(PushToken.id))
    return [dict(row._mapping) for row in rows]


async def unregister(session: AsyncSession, user_id: int, token: str) -> None:
    result = await session.execute(
        delete(PushToken).where(PushToken.token == token, PushToken.user_id == user_id)
    )
    if result.rowcount != 1:
        raise NotFound("No such push token")


async def forget(session: AsyncSession, user_id: int, tokens: set[str]) -> None:
    """Drop tokens the push service says are gone (only while still this user's)."""
    if tokens:
        await session.execute(
            delete(PushToken).where(PushToken.user_id == user_id, PushToken.token.in_(sorted(tokens)))
        )
