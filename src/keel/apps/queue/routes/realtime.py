from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket

from keel.apps.queue.deps import CurrentUser, auth, realtime
from keel.apps.queue.schemas import EventList
from keel.core import realtime as core_realtime
from keel.core.db import ReadDb, TransactionalRoute
from keel.core.errors import Unauthorized, error_responses

router = APIRouter(tags=["realtime"], route_class=TransactionalRoute)

SinceQuery = Annotated[
    str | None,
    Query(
        max_length=4096,
        description="The `id` of the last event the client saw (a cursor: `me:12,store/<id>:40`), "
        "a bare number (the position on the user's own stream), or an ISO 8601 time with a zone",
    ),
]


@router.websocket("/ws")
async def websocket(
    websocket: WebSocket,
    token: Annotated[str, Query(max_length=4096)] = "",
    since: SinceQuery = None,
    store_id: Annotated[str, Query(max_length=64)] = "",
) -> None:
    """Live events as `{"id", "event", "data"}` text frames: queue_updated, new_message,
    booking_status_changed; `id` is the cursor to reconnect with (`since=`), and what the
    client missed comes first. `store_id` watches a store's line (`queue_updated` with its
    count only; no token needed while the store takes bookings). A bad token closes with 4401,
    an unknown store with 4404."""
    await realtime.serve(websocket, authenticate=auth.user_for_token, token=token, since=since)


@router.get("/events", response_model=EventList, responses=error_responses(Unauthorized))
async def list_events(
    user: CurrentUser,
    db: ReadDb,
    since: SinceQuery = None,
    limit: Annotated[int, Query(ge=1, le=core_realtime.REPLAY_LIMIT)] = 100,
) -> dict[str, Any]:
    """The signed-in user's events after a cursor (or from a time on), each stream oldest first:
    what a client that was offline missed. Ask again with `since=last_id` until `events` is
    empty."""
    events, cursor = await realtime.missed(db, user, since, limit)
    return {"events": events, "last_id": cursor}
