from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket

from keel.apps.queue.deps import CurrentUser, auth
from keel.apps.queue.models import Event
from keel.apps.queue.schemas import EventList
from keel.core import realtime
from keel.core.db import ReadDb, TransactionalRoute
from keel.core.errors import Unauthorized, error_responses

router = APIRouter(tags=["realtime"], route_class=TransactionalRoute)

SinceQuery = Annotated[
    str | None,
    Query(max_length=64, description="The last event id the client saw, or an ISO 8601 time with a zone"),
]


@router.websocket("/ws")
async def websocket(
    websocket: WebSocket, token: Annotated[str, Query(max_length=4096)] = "", since: SinceQuery = None
) -> None:
    """Live events as `{"id", "event", "data"}` text frames: queue_updated, new_message,
    booking_status_changed. With `since`, what the client missed comes first. A bad token
    closes with 4401."""
    await realtime.serve_websocket(
        websocket, authenticate=auth.user_for_token, model=Event, token=token, since=since
    )


@router.get("/events", response_model=EventList, responses=error_responses(Unauthorized))
async def list_events(
    user: CurrentUser,
    db: ReadDb,
    since: SinceQuery = None,
    limit: Annotated[int, Query(ge=1, le=realtime.REPLAY_LIMIT)] = 100,
) -> dict[str, Any]:
    """The signed-in user's events after an id (or from a time on), oldest first: what a client
    that was offline missed. Ask again with `since=last_id` until `events` is empty."""
    events = await realtime.events_since(db, Event, user.id, realtime.parse_since(since), limit)
    return {
        "events": [{"id": e.id, "event": e.name, "data": e.data} for e in events],
        "last_id": events[-1].id if events else None,
    }
