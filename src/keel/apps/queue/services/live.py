"""What the queue's sockets follow and hear (the `Feed` of keel.core.realtime).

Channels: `store/<id>`, a store's line, and `user/<id>`, one person's own events
(`booking_status_changed`, `new_message`). A store's change is ONE stored `queue_updated`
carrying the whole waiting line compactly, per day in line order its first and last waiting
number and the numbers between that are not waiting (`"line": [["2026-12-03", 4, 90, [7]]]`),
with the minutes per person ahead; each socket renders its own `your_position` and
`estimated_wait_time` from it when sending, from the place (day and number) its viewer holds
in that line: a subtraction and a binary search in the few holes, not a query. The event's
size does not grow with the line, and every event is the line's whole state, so a later one
makes an earlier one unneeded (`Feed.states`: a socket that is behind sends only the latest).

Who hears a store: its owner and staff (position and wait null), the customers waiting in its
line, and anyone watching it through `/ws?store_id=` (count only, nothing personal). A booking's event
names who `joined` or `left` the line, so each process moves its own sockets of that person
onto or off the channel as the event passes.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from keel.apps.queue.models import Booking, Store
from keel.apps.queue.schemas import BookingStatus
from keel.apps.queue.services import staff
from keel.apps.queue.services.line import Line, Span, estimated_wait, position_in
from keel.core.errors import NotFound, Unauthorized
from keel.core.realtime import Event, Hub, Outgoing


def store_channel(store_id: uuid.UUID | str) -> str:
    return f"store/{store_id}"


def user_channel(user_id: uuid.UUID | str) -> str:
    return f"user/{user_id}"


def queue_updated(
    line: Line, now: datetime, *, joined: Booking | None = None, left: Sequence[uuid.UUID] = ()
) -> Outgoing:
    """The store's one event for a change of its line; `joined` is the booking that entered
    it, `left` the customers whose bookings stopped waiting."""
    data: dict[str, Any] = {
        "store_id": str(line.store_id),
        "current_queue_count": line.count,
        "updated_at": now.isoformat(),
        "line": [[span.day.isoformat(), span.lo, span.hi, list(span.holes)] for span in line.spans],
        "minutes": line.minutes_per_person,
    }
    if joined is not None:
        data["joined"] = [str(joined.user_id), joined.queue_day.isoformat(), joined.queue_number]
    if left:
        data["left"] = [str(user_id) for user_id in left]
    return store_channel(line.store_id), "queue_updated", data


@dataclass(slots=True)
class Viewer:
    # store id -> (day, number) of the viewer's waiting booking there
    places: dict[str, tuple[date, int]] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)
    watching: set[str] = field(default_factory=set)


class QueueFeed:
    states = frozenset({"queue_updated"})

    def own_channel(self, user_id: str) -> str:
        return user_channel(user_id)

    async def viewer(self, db: Any, user: Any | None, params: Mapping[str, str]) -> tuple[Viewer, set[str]]:
        """A signed-in user follows their own channel, the lines they wait in and the stores
        they own or are on the staff of; `store_id` adds a store to watch, which needs no token
        while it takes bookings."""
        viewer = Viewer()
        store_id = params.get("store_id")
        if store_id:
            viewer.watching.add(await _watchable(db, store_id, signed_in=user is not None))
        elif user is None:
            raise Unauthorized("A token is required, unless watching a store (store_id)")
        channels = {store_channel(s) for s in viewer.watching}
        if user is not None:
            waiting = await db.execute(
                select(Booking.store_id, Booking.queue_day, Booking.queue_number).where(
                    Booking.user_id == user.id, Booking.status == BookingStatus.waiting
                )
            )
            viewer.places = {str(r.store_id): (r.queue_day, r.queue_number) for r in waiting}
            # Their staff too: the people at the counter hear the line as its owner does.
            owned = await db.execute(select(Store.id).where(staff.runs(user.id)))
            viewer.owned = {str(store) for store in owned.scalars()}
            channels |= {store_channel(s) for s in (*viewer.places, *viewer.owned)}
            channels.add(user_channel(user.id))
        return viewer, channels

    def observe(self, hub: Hub, event: Event) -> None:
        if event.name != "queue_updated":
            return
        store_id = event.data["store_id"]
        joined = event.data.get("joined")
        if joined is not None:
            user_id, day, number = joined
            for connection in hub.connections_of(user_id):
                connection.viewer.places[store_id] = (date.fromisoformat(day), number)
                if event.channel not in connection.channels:
                    hub.follow(connection, event.channel, from_seq=event.seq)
        left_line = event.data.get("left", ())
        # One customer's id, in events stored before several could leave at once (the day's end).
        for left in [left_line] if isinstance(left_line, str) else left_line:
            for connection in list(hub.connections_of(left)):
                viewer: Viewer = connection.viewer
                viewer.places.pop(store_id, None)
                if store_id not in viewer.owned and store_id not in viewer.watching:
                    hub.unfollow(connection, event.channel)

    def render(self, viewer: Viewer, event: Event) -> dict[str, Any] | None:
        if event.name != "queue_updated":
            return event.data
        data = event.data
        store_id = data["store_id"]
        if store_id in viewer.owned:
            return _shared(event, "owner")
        place = viewer.places.get(store_id)
        if place is not None:
            position = position_in(_spans(event), *place)
            if position is not None:
                return {
                    "store_id": store_id,
                    "current_queue_count": data["current_queue_count"],
                    "your_position": position,
                    "estimated_wait_time": estimated_wait(position - 1, data["minutes"]),
                    "updated_at": data["updated_at"],
                }
        if store_id in viewer.watching:
            return _shared(event, "public")
        return None


async def _watchable(db: Any, store_id: str, *, signed_in: bool) -> str:
    try:
        key = uuid.UUID(store_id)
    except ValueError:
        raise NotFound("Store not found") from None
    active = (await db.execute(select(Store.is_active).where(Store.id == key))).scalar_one_or_none()
    if active is None:
        raise NotFound("Store not found")
    if not active and not signed_in:
        raise Unauthorized("This store is not taking bookings: sign in to watch it")
    return str(key)


def _spans(event: Event) -> list[Span]:
    """The event's line, read once per event per process."""
    spans = event.rendered.get("spans")
    if spans is None:
        spans = event.rendered["spans"] = [_span(*entry) for entry in event.data["line"]]
    return spans


def _span(day: str, *rest: Any) -> Span:
    """`[day, first, last, holes]`; or, stored before the line was written as spans (a cursor
    replaying events of the week before a deploy), `[day, [every waiting number]]`."""
    if len(rest) == 3:
        lo, hi, holes = rest
        return Span(date.fromisoformat(day), lo, hi, tuple(holes))
    (numbers,) = rest
    waiting = set(numbers)
    lo, hi = min(numbers), max(numbers)
    return Span(date.fromisoformat(day), lo, hi, tuple(n for n in range(lo, hi + 1) if n not in waiting))


def _shared(event: Event, role: str) -> dict[str, Any]:
    """The same payload for every owner or watcher: the store's, without anyone's place."""
    shared = event.rendered.get(role)
    if shared is None:
        data = event.data
        shared = {"store_id": data["store_id"], "current_queue_count": data["current_queue_count"]}
        if role == "owner":
            shared |= {"your_position": None, "estimated_wait_time": None}
        shared["updated_at"] = data["updated_at"]
        event.rendered[role] = shared
    return shared
