import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from keel.apps.queue.deps import CurrentUser
from keel.apps.queue.schemas import NotificationList, NotificationRead, NotificationsRead
from keel.apps.queue.services import notifications
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import NotFound, Unauthorized, error_responses
from keel.core.pagination import PageParams

router = APIRouter(prefix="/notifications", tags=["notifications"], route_class=TransactionalRoute)


@router.get("", response_model=NotificationList, responses=error_responses(Unauthorized))
async def list_notifications(
    user: CurrentUser, db: ReadDb, page: PageParams, is_read: Annotated[bool | None, Query()] = None
) -> dict[str, Any]:
    """Newest first; `unread_count` counts all unread ones, whatever the filter."""
    return await notifications.list_notifications(db, user.id, page, is_read)


@router.put("/read-all", response_model=NotificationsRead, responses=error_responses(Unauthorized))
async def mark_all_read(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    updated, read_at = await notifications.mark_all_read(session, user.id)
    return {"message": "所有通知已標記為已讀", "updated": updated, "read_at": read_at}


@router.put(
    "/{notification_id}/read",
    response_model=NotificationRead,
    responses=error_responses(Unauthorized, NotFound),
)
async def mark_read(notification_id: uuid.UUID, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Marking a read notification again keeps its first `read_at`."""
    read_at = await notifications.mark_read(session, user.id, notification_id)
    return {"message": "通知已標記為已讀", "read_at": read_at}
