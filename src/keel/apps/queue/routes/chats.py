import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from keel.apps.queue.deps import CurrentUser, Events
from keel.apps.queue.schemas import ChatList, ChatMessages, MessageCreate, MessageSent
from keel.apps.queue.services import chats
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Forbidden, NotFound, Unauthorized, error_responses
from keel.core.pagination import PageRequest, page_params

router = APIRouter(prefix="/chats", tags=["chats"], route_class=TransactionalRoute)
_ERRORS = error_responses(Unauthorized, Forbidden, NotFound)


@router.get("", response_model=ChatList, responses=error_responses(Unauthorized))
async def list_chats(user: CurrentUser, db: ReadDb) -> dict[str, Any]:
    """The user's conversations, one per booking, as a customer or as a store's owner: latest
    message first; a booking without messages yet has `last_message: null`."""
    return {"chats": await chats.list_chats(db, user.id)}


@router.get("/{booking_id}/messages", response_model=ChatMessages, responses=_ERRORS)
async def read_messages(
    booking_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    page: Annotated[PageRequest, Depends(page_params(50))],
) -> dict[str, Any]:
    """Only the booker and the store's owner (403 for others). Oldest first; reading marks the
    other side's messages read."""
    return await chats.read_messages(session, booking_id, user.id, page)


@router.post("/{booking_id}/messages", status_code=201, response_model=MessageSent, responses=_ERRORS)
async def send_message(
    booking_id: uuid.UUID, data: MessageCreate, user: CurrentUser, session: DbSession, events: Events
) -> dict[str, Any]:
    """1 to 2,000 characters; the other side gets `new_message` and a notification."""
    message = await chats.send_message(session, events, booking_id, user, data.content)
    return {"id": message.id, "message": "訊息發送成功", "sent_at": message.created_at}
