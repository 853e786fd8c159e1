"""Who runs a store's line (issue 14 item 4): its owner and the staff the owner adds. Staff may
move bookings (call next, no-show, recall, walk-ins) but not change the store or its staff."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import Store, StoreStaff, User
from keel.apps.queue.schemas import StaffAdd
from keel.core.db import Executor
from keel.core.errors import Conflict, Forbidden, NotFound
from keel.core.security.identity import normalize_email


async def _roles(db: Executor, store_id: uuid.UUID, user_id: uuid.UUID) -> Any:
    is_staff = exists().where(StoreStaff.store_id == Store.id, StoreStaff.user_id == user_id)
    row = (
        await db.execute(select(Store.owner_id, is_staff.label("is_staff")).where(Store.id == store_id))
    ).first()
    if row is None:
        raise NotFound("Store not found")
    return row


def runs(user_id: uuid.UUID) -> ColumnElement[bool]:
    """A condition on stores: those the user owns or is on the staff of."""
    on_staff = exists().where(StoreStaff.store_id == Store.id, StoreStaff.user_id == user_id)
    return or_(Store.owner_id == user_id, on_staff)


async def require_operator(db: Executor, store_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """404 for no such store; 403 unless the user owns it or is on its staff."""
    roles = await _roles(db, store_id, user_id)
    if roles.owner_id != user_id and not roles.is_staff:
        raise Forbidden("Only the store's owner or its staff can run its line")


async def may_operate(db: Executor, store_id: uuid.UUID, owner_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """For a caller that has already read the store's owner."""
    if owner_id == user_id:
        return True
    found = await db.execute(
        select(StoreStaff.user_id).where(StoreStaff.store_id == store_id, StoreStaff.user_id == user_id)
    )
    return found.first() is not None


async def _require_owner(db: Executor, store_id: uuid.UUID, user_id: uuid.UUID) -> None:
    if (await _roles(db, store_id, user_id)).owner_id != user_id:
        raise Forbidden("Only the store's owner can manage its staff")


_MEMBER = (
    StoreStaff.user_id,
    User.email,
    User.name,
    StoreStaff.created_at.label("added_at"),
)


async def list_staff(db: Executor, store_id: uuid.UUID, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """For the owner and the staff themselves, oldest first."""
    await require_operator(db, store_id, user_id)
    rows = await db.execute(
        select(*_MEMBER)
        .join(User, User.id == StoreStaff.user_id)
        .where(StoreStaff.store_id == store_id)
        .order_by(StoreStaff.created_at, StoreStaff.user_id)
    )
    return [dict(row._mapping) for row in rows]


async def add_staff(
    session: AsyncSession, store_id: uuid.UUID, owner_id: uuid.UUID, data: StaffAdd
) -> dict[str, Any]:
    await _require_owner(session, store_id, owner_id)
    chosen = User.email == normalize_email(data.email) if data.email else User.id == data.user_id
    user = (await session.execute(select(User.id, User.email, User.name).where(chosen))).first()
    if user is None:
        raise NotFound("No user with that email" if data.email else "No user with that id")
    if user.id == owner_id:
        raise Conflict("The owner already runs this store")
    member = StoreStaff(store_id=store_id, user_id=user.id)
    try:
        async with session.begin_nested():
            session.add(member)
    except IntegrityError:
        raise Conflict(f"{user.email} is already on this store's staff") from None
    return {"user_id": user.id, "email": user.email, "name": user.name, "added_at": member.created_at}


async def remove_staff(
    session: AsyncSession, store_id: uuid.UUID, owner_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    await _require_owner(session, store_id, owner_id)
    removed = await session.execute(
        delete(StoreStaff).where(StoreStaff.store_id == store_id, StoreStaff.user_id == user_id)
    )
    if removed.rowcount != 1:
        raise NotFound("That user is not on this store's staff")
