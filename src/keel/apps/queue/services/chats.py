"""Chats: one conversation per booking, between the booker and the store's owner, who speaks
as the store (its name and picture, as in the spec's example)."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import Booking, Message, Store, User
from keel.apps.queue.services import notifications
from keel.apps.queue.services.live import user_channel
from keel.core.db import Executor, utcnow
from keel.core.errors import Forbidden, NotFound
from keel.core.pagination import PageRequest, fetch_page, total_pages
from keel.core.realtime import EventSink


@dataclass(frozen=True, slots=True)
class Conversation:
    booking_id: uuid.UUID
    customer_id: uuid.UUID
    owner_id: uuid.UUID
    store_name: str

    def other(self, user_id: uuid.UUID) -> uuid.UUID:
        return self.owner_id if user_id == self.customer_id else self.customer_id


async def _conversation(db: Executor, booking_id: uuid.UUID, user_id: uuid.UUID) -> Conversation:
    row = (
        await db.execute(
            select(Booking.user_id, Store.owner_id, Store.name)
            .join(Store, Store.id == Booking.store_id)
            .where(Booking.id == booking_id)
        )
    ).first()
    if row is None:
        raise NotFound("Booking not found")
    if user_id not in (row.user_id, row.owner_id):
        raise Forbidden("Only the booker and the store's owner can use this chat")
    return Conversation(booking_id, row.user_id, row.owner_id, row.name)


async def list_chats(db: Executor, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every booking of the user's (as booker or owner; not a walk-in's, who has no app), a room
    from the booking on: those with messages by their latest, the others (`last_message: null`)
    by when they were booked."""
    mine = (
        select(Booking.id)
        .join(Store, Store.id == Booking.store_id)
        .where(or_(Booking.user_id == user_id, Store.owner_id == user_id))
    )
    # A walk-in has no app to chat in: its bookings are nobody's conversation.
    spoken = Booking.walk_in_name.is_(None)
    ranked = (
        select(
            Message.booking_id,
            Message.content,
            Message.created_at,
            func.row_number()
            .over(partition_by=Message.booking_id, order_by=(Message.created_at.desc(), Message.id.desc()))
            .label("rank"),
        )
        .where(Message.booking_id.in_(mine))
        .subquery()
    )
    unread = (
        select(Message.booking_id, func.count().label("count"))
        .where(Message.booking_id.in_(mine), Message.sender_id != user_id, Message.is_read.is_(False))
        .group_by(Message.booking_id)
        .subquery()
    )
    rows = await db.execute(
        select(
            Booking.id,
            Booking.queue_number,
            Booking.status,
            Store.id.label("store_id"),
            Store.name.label("store_name"),
            Store.avatar_url.label("store_avatar_url"),
            User.id.label("customer_id"),
            User.name.label("customer_name"),
            User.avatar_url.label("customer_avatar_url"),
            ranked.c.content,
            ranked.c.created_at,
            func.coalesce(unread.c.count, 0).label("unread_count"),
        )
        .join(Store, Store.id == Booking.store_id)
        .join(User, User.id == Booking.user_id)
        .outerjoin(ranked, and_(ranked.c.booking_id == Booking.id, ranked.c.rank == 1))
        .outerjoin(unread, unread.c.booking_id == Booking.id)
        .where(or_(Booking.user_id == user_id, Store.owner_id == user_id), spoken)
        .order_by(func.coalesce(ranked.c.created_at, Booking.created_at).desc(), Booking.id)
    )
    return [
        {
            "booking_id": row.id,
            "queue_number": row.queue_number,
            "booking_status": row.status,
            "store": {"id": row.store_id, "name": row.store_name, "avatar_url": row.store_avatar_url},
            "customer": {
                "id": row.customer_id,
                "name": row.customer_name,
                "avatar_url": row.customer_avatar_url,
            },
            "last_message": None
            if row.created_at is None
            else {"content": row.content, "created_at": row.created_at},
            "unread_count": row.unread_count,
        }
        for row in rows
    ]


async def read_messages(
    session: AsyncSession, booking_id: uuid.UUID, user_id: uuid.UUID, page: PageRequest
) -> dict[str, Any]:
    """Oldest first. Reading marks the other side's messages read (and answers them so)."""
    conversation = await _conversation(session, booking_id, user_id)
    await session.execute(
        update(Message)
        .where(Message.booking_id == booking_id, Message.sender_id != user_id, Message.is_read.is_(False))
        .values(is_read=True)
    )
    by_owner = Message.sender_id == conversation.owner_id
    statement = (
        select(
            Message.id,
            Message.sender_id,
            Message.content,
            Message.is_read,
            Message.created_at,
            case((by_owner, Store.name), else_=User.name).label("sender_name"),
            case((by_owner, Store.avatar_url), else_=User.avatar_url).label("sender_avatar_url"),
        )
        .join(Booking, Booking.id == Message.booking_id)
        .join(Store, Store.id == Booking.store_id)
        .join(User, User.id == Message.sender_id)
        .where(Message.booking_id == booking_id)
        .order_by(Message.created_at, Message.id)
    )
    rows, total = await fetch_page(session, statement, page)
    messages = [
        {
            "id": row.id,
            "sender": {"id": row.sender_id, "name": row.sender_name, "avatar_url": row.sender_avatar_url},
            "content": row.content,
            "is_read": row.is_read,
            "created_at": row.created_at,
        }
        for row in rows
    ]
    return {
        "messages": messages,
        "total": total,
        "page": page.page,
        "total_pages": total_pages(total, page),
    }


async def send_message(
    session: AsyncSession, events: EventSink, booking_id: uuid.UUID, sender: Any, content: str
) -> Message:
    conversation = await _conversation(session, booking_id, sender.id)
    message = Message(booking_id=booking_id, sender_id=sender.id, content=content, created_at=utcnow())
    session.add(message)
    await session.flush()
    sender_name = conversation.store_name if sender.id == conversation.owner_id else sender.name
    recipient = conversation.other(sender.id)
    await notifications.add(
        session, [(recipient, "message_received", "收到新訊息", f"{sender_name}向您發送了一則訊息")]
    )
    data = {
        "booking_id": str(booking_id),
        "message": {
            "id": str(message.id),
            "sender_id": str(sender.id),
            "sender_name": sender_name,
            "content": content,
            "created_at": message.created_at.isoformat(),
        },
    }
    await events.emit(session, [(user_channel(recipient), "new_message", data)])
    return message
