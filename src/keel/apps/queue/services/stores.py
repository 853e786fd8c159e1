"""Stores: the public list with each queue's length, creation, and the owner's edits."""

import uuid
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import Booking, Store
from keel.apps.queue.schemas import BookingStatus, StoreCreate, StoreUpdate
from keel.core.db import Executor
from keel.core.errors import Forbidden, NotFound
from keel.core.pagination import PageRequest, fetch_page, total_pages

_QUEUE_COUNT = (
    select(func.count())
    .where(Booking.store_id == Store.id, Booking.status == BookingStatus.waiting)
    .correlate(Store)
    .scalar_subquery()
    .label("current_queue_count")
)
_SUMMARY = (
    Store.id,
    Store.name,
    Store.description,
    Store.avatar_url,
    Store.address,
    Store.contact_email,
    _QUEUE_COUNT,
)


def _search(statement: Select[Any], search: str | None) -> Select[Any]:
    if not search:
        return statement
    return statement.where(
        or_(
            Store.name.icontains(search, autoescape=True),
            Store.description.icontains(search, autoescape=True),
            Store.address.icontains(search, autoescape=True),
        )
    )


async def list_stores(db: Executor, page: PageRequest, search: str | None) -> dict[str, Any]:
    """Stores open for booking (the spec's list is of those), oldest first."""
    visible = _search(select(*_SUMMARY).where(Store.is_active.is_(True)), search)
    rows, total = await fetch_page(db, visible.order_by(Store.created_at, Store.id), page)
    return {
        "stores": [dict(row._mapping) for row in rows],
        "total": total,
        "page": page.page,
        "total_pages": total_pages(total, page),
    }


async def create_store(
    session: AsyncSession, owner_id: uuid.UUID, data: StoreCreate, default_time_zone: str
) -> Store:
    values = data.model_dump(mode="json")
    values["time_zone"] = values["time_zone"] or default_time_zone
    store = Store(owner_id=owner_id, **values)
    session.add(store)
    await session.flush()
    return store


async def get_store(db: Executor, store_id: uuid.UUID) -> dict[str, Any]:
    row = (
        (await db.execute(select(Store.__table__, _QUEUE_COUNT).where(Store.id == store_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("Store not found")
    # The measured minutes per service (services/line.py), null until the store has enough.
    estimate = row["service_seconds_estimate"]
    return {**row, "average_service_minutes": None if estimate is None else round(estimate / 60, 2)}


async def update_store(
    session: AsyncSession, user_id: uuid.UUID, store_id: uuid.UUID, data: StoreUpdate
) -> dict[str, Any]:
    store = await session.get(Store, store_id)
    if store is None:
        raise NotFound("Store not found")
    if store.owner_id != user_id:
        raise Forbidden("Only the store's owner can change it")
    for field, value in data.model_dump(exclude_unset=True, mode="json").items():
        setattr(store, field, value)
    await session.flush()
    return await get_store(session, store_id)
