"""Notifications: the rows each user lists and marks read. Written by the other services in
the same transaction as the change they tell about."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import Notification, User
from keel.core.db import Executor, utcnow
from keel.core.errors import NotFound
from keel.core.pagination import PageRequest, fetch_page, total_pages

# (recipient, type, title, content)
NewNotification = tuple[uuid.UUID, str, str, str]
_SWITCHES_SLICE = 5000


async def add(
    session: AsyncSession,
    notifications: Sequence[NewNotification],
    switches: Mapping[uuid.UUID, Mapping[str, Any] | None] | None = None,
) -> None:
    """All in one multi-row insert. A recipient whose `push_notifications` is off gets none:
    the in-app list is what a push would carry (there is no mail or SMS delivery, so their
    switches have nothing to stop). `switches`: the recipients' notification_settings the
    caller has read already; the others are read here."""
    notifications = await _wanted(session, notifications, switches or {})
    if not notifications:
        return
    now = utcnow()
    await session.execute(
        insert(Notification),
        [
            {"id": uuid.uuid4(), "user_id": user_id, "type": kind, "title": title, "content": content,
             "is_read": False, "created_at": now}
            for user_id, kind, title, content in notifications
        ],
    )  # fmt: skip


def _muted(settings: Mapping[str, Any] | None) -> bool:
    return (settings or {}).get("push_notifications") is False


async def _wanted(
    session: AsyncSession,
    notifications: Sequence[NewNotification],
    known: Mapping[uuid.UUID, Mapping[str, Any] | None],
) -> list[NewNotification]:
    if not notifications:
        return []
    muted = {user_id for user_id, settings in known.items() if _muted(settings)}
    recipients = list({user_id for user_id, *_ in notifications} - known.keys())
    # In slices: a line of tens of thousands would pass the drivers' limit on bound parameters.
    for start in range(0, len(recipients), _SWITCHES_SLICE):
        rows = await session.execute(
            select(User.id, User.notification_settings).where(
                User.id.in_(recipients[start : start + _SWITCHES_SLICE])
            )
        )
        muted |= {row.id for row in rows if _muted(row.notification_settings)}
    return [n for n in notifications if n[0] not in muted]


_FIELDS = (
    Notification.id,
    Notification.type,
    Notification.title,
    Notification.content,
    Notification.is_read,
    Notification.created_at,
)


async def list_notifications(
    db: Executor, user_id: uuid.UUID, page: PageRequest, is_read: bool | None
) -> dict[str, Any]:
    """Newest first; `unread_count` counts every unread one, whatever the filter."""
    conditions = [Notification.user_id == user_id]
    if is_read is not None:
        conditions.append(Notification.is_read.is_(is_read))
    # MySQL has no FILTER clause: the counts are sums of CASE instead.
    total_in_filter = (
        func.sum(case((Notification.is_read.is_(is_read), 1), else_=0))
        if is_read is not None
        else func.count()
    )
    unread = func.sum(case((Notification.is_read.is_(False), 1), else_=0))
    counts = (await db.execute(select(total_in_filter, unread).where(Notification.user_id == user_id))).one()
    total, unread_count = int(counts[0] or 0), int(counts[1] or 0)
    rows, _ = await fetch_page(
        db,
        select(*_FIELDS).where(*conditions).order_by(Notification.created_at.desc(), Notification.id),
        page,
        total=total,
    )
    return {
        "notifications": [dict(row._mapping) for row in rows],
        "unread_count": unread_count,
        "total": total,
        "page": page.page,
        "total_pages": total_pages(total, page),
    }


async def mark_read(session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID) -> datetime:
    """Another user's notification is answered like a missing one: 404."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotFound("Notification not found")
    if not notification.is_read:
        notification.is_read = True
        notification.read_at = utcnow()
        await session.flush()
    assert notification.read_at is not None
    return notification.read_at


async def mark_all_read(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, datetime]:
    now = utcnow()
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.is_read.is_(False))
        .values(is_read=True, read_at=now)
    )
    return result.rowcount, now
