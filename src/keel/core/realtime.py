"""Realtime events for any app: written to the app's `events` table in the transaction of the
change that caused them, then fanned out to the recipients' WebSocket connections after the
commit.

- **The table is the truth.** Each event row (one per recipient) has an autoincrement id, the
  sequence a client remembers; a client that was away asks for what came after it, over the
  WebSocket (`since=`) or REST. Nothing is delivered for a transaction that rolled back.
- **Delivery** is in-process by default. With `KEEL_REDIS_URL` set, each committed batch is
  ONE message on the app's channel (`keel:<slug>:events`); every process runs one subscriber
  that hands each event to its own connections of that user, so a client connected to any
  process hears about changes made through any other.
- **No socket holds up another.** Dispatch only puts the encoded message on each connection's
  bounded queue; a task per connection sends it. A connection whose queue overflows or whose
  send stalls is closed (1013); its client reconnects with `since` and loses nothing.

An app declares `class Event(EventMixin, Base)`, gets an `EventSink` per request through
`event_sink_dependency(Event)`, serves `/ws` with `serve_websocket`, and registers `start` and
`stop` as its startup and shutdown hooks.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy import BigInteger, ForeignKey, Integer, String, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from keel.core.db import JSONColumn, after_commit, utcnow
from keel.core.errors import Unprocessable

log = logging.getLogger("keel.realtime")

# Close codes: 4401 mirrors HTTP 401 for a bad token; 1013 ("try again later") for a client
# too slow to keep up, which reconnects with `since`.
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 1013
SEND_QUEUE_SIZE = 1024
SEND_TIMEOUT_SECONDS = 5.0
REPLAY_LIMIT = 1000

# A sequence id fits BIGINT; SQLite only autoincrements an INTEGER primary key.
_SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")


class EventMixin:
    """One row per event per recipient. Rows can be pruned once no client will ask for them."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(_SEQUENCE, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    created_at: Mapped[datetime] = mapped_column(index=True)

    @declared_attr
    def user_id(cls) -> Mapped[Any]:
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    user_id: str
    name: str
    data: dict[str, Any]

    def message(self) -> str:
        """What the client receives: `{"id": <sequence>, "event": <name>, "data": {...}}`."""
        return orjson.dumps({"id": self.id, "event": self.name, "data": self.data}).decode()


# What an app emits: (recipient's user id, event name, data).
Outgoing = tuple[Any, str, dict[str, Any]]


class _Connection:
    """One WebSocket: a bounded queue of messages and the task that sends them in order."""

    def __init__(self, websocket: WebSocket, user_id: str):
        self.websocket = websocket
        self.user_id = user_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue(SEND_QUEUE_SIZE)
        # Events at or below this id were already sent (by the replay): skipped when live.
        self.last_id = 0
        self.task: asyncio.Task[None] | None = None

    def push(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("closing a WebSocket that cannot keep up", extra={"user_id": self.user_id})
            self._close_soon(CLOSE_TOO_SLOW)

    async def send(self, event: Event) -> None:
        # A timeout scope, not wait_for: that wraps every send in a task of its own, a cost
        # paid a thousand times when one change reaches a thousand customers.
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            await self.websocket.send_text(event.message())
        self.last_id = max(self.last_id, event.id)

    async def run(self) -> None:
        try:
            while True:
                event = await self.queue.get()
                if event.id > self.last_id:
                    await self.send(event)
        except (TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            self._close_soon(CLOSE_TOO_SLOW)

    def _close_soon(self, code: int) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            task = asyncio.ensure_future(_close_quietly(self.websocket, code))
            _background.add(task)
            task.add_done_callback(_background.discard)


_background: set[asyncio.Future[None]] = set()


async def _close_quietly(websocket: WebSocket, code: int) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code)


class Hub:
    """One app's connections in this process, and the way events reach them."""

    def __init__(self, channel: str, redis: Any | None):
        self.channel = channel
        self.redis = redis
        self._connections: dict[str, set[_Connection]] = {}
        self._subscriber: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def connection_count(self) -> int:
        return sum(len(connections) for connections in self._connections.values())

    async def start(self) -> None:
        """Subscribe to the app's channel (with Redis); returns once the subscription holds."""
        if self.redis is None or self._subscriber is not None:
            return
        self._subscriber = asyncio.create_task(self._subscribe())
        await asyncio.wait_for(self._subscribed.wait(), 10)

    async def stop(self) -> None:
        if self._subscriber is not None:
            self._subscriber.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._subscriber
            self._subscriber = None
        for connections in list(self._connections.values()):
            for connection in list(connections):
                await _close_quietly(connection.websocket, 1001)

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        if self.redis is None:
            self.dispatch(events)
            return
        payload = orjson.dumps([(e.id, e.user_id, e.name, e.data) for e in events])
        await self.redis.publish(self.channel, payload)

    def dispatch(self, events: Iterable[Event]) -> None:
        """Hand each event to its user's connections in this process; never waits on a socket."""
        connections = self._connections
        for event in events:
            for connection in connections.get(event.user_id, ()):
                connection.push(event)

    def attach(self, connection: _Connection) -> None:
        self._connections.setdefault(connection.user_id, set()).add(connection)

    def detach(self, connection: _Connection) -> None:
        connections = self._connections.get(connection.user_id)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self._connections[connection.user_id]

    async def _subscribe(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self.dispatch(Event(*row) for row in orjson.loads(message["data"]))
            except asyncio.CancelledError:
                await _close_pubsub(pubsub)
                raise
            except Exception:
                # Events published meanwhile are not lost: clients catch up with `since`.
                log.exception("realtime subscriber lost Redis; resubscribing")
                await _close_pubsub(pubsub)
                await asyncio.sleep(1)


async def _close_pubsub(pubsub: Any) -> None:
    with contextlib.suppress(Exception):
        await pubsub.aclose()


def hub(app: Any) -> Hub:
    """The app's hub, made on first use (an app served without a lifespan still delivers)."""
    state = app.state
    existing = getattr(state, "realtime_hub", None)
    if existing is None:
        existing = state.realtime_hub = Hub(f"keel:{state.slug}:events", state.redis)
    return existing


async def start(app: Any) -> None:
    """Startup hook: with Redis, the process's subscriber."""
    await hub(app).start()


async def stop(app: Any) -> None:
    """Shutdown hook: stop the subscriber and close the connections (1001, going away)."""
    await hub(app).stop()


_BATCH = "keel_realtime_batch"


class EventSink:
    """One request's events: recorded in its transaction, published once after its commit."""

    def __init__(self, request: Request, model: type):
        self.request = request
        self.model: Any = model

    async def emit(self, session: AsyncSession, outgoing: Sequence[Outgoing]) -> list[Event]:
        """Insert the rows in one multi-row statement (their ids are the sequence) and queue
        them for delivery after the commit, together with the request's other events."""
        if not outgoing:
            return []
        now = utcnow()
        table = self.model.__table__
        rows = [
            {"user_id": user_id, "name": name, "data": data, "created_at": now}
            for user_id, name, data in outgoing
        ]
        result = await session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        ids = result.scalars().all()
        events = [
            Event(id, str(user_id), name, data)
            for id, (user_id, name, data) in zip(ids, outgoing, strict=True)
        ]
        state = self.request.scope["state"]
        batch = state.get(_BATCH)
        if batch is None:
            batch = state[_BATCH] = []
            app_hub = hub(self.request.app)
            after_commit(self.request, lambda: app_hub.publish(batch))
        batch.extend(events)
        return events


def event_sink_dependency(model: type) -> Callable[[Request], Awaitable[EventSink]]:
    async def request_sink(request: Request) -> EventSink:
        return EventSink(request, model)

    return request_sink


Since = int | datetime | None


def parse_since(value: str | None) -> Since:
    """`since` is an event id (the last one the client saw) or an ISO 8601 time with a zone."""
    if value is None or value == "":
        return None
    if value.isascii() and value.isdigit():  # "³" is a digit to isdigit, not to int()
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Unprocessable(
            "since must be an event id or an ISO 8601 time with a zone (2024-01-15T10:40:00Z)",
            loc=("query", "since"),
        )
    return moment


async def events_since(
    db: Any, model: type, user_id: Any, since: Since, limit: int = REPLAY_LIMIT
) -> list[Event]:
    """The user's events after an id or from a time on, oldest first."""
    table: Any = model.__table__
    statement = select(table.c.id, table.c.name, table.c.data).where(table.c.user_id == user_id)
    if isinstance(since, int):
        statement = statement.where(table.c.id > since)
    elif since is not None:
        statement = statement.where(table.c.created_at >= since)
    rows = (await db.execute(statement.order_by(table.c.id).limit(limit))).all()
    return [Event(row.id, str(user_id), row.name, row.data) for row in rows]


Authenticate = Callable[[HTTPConnection, str], Awaitable[Any]]


async def serve_websocket(
    websocket: WebSocket, *, authenticate: Authenticate, model: type, token: str, since: str | None
) -> None:
    """Authenticate (a bad token closes with 4401), accept, replay what came after `since`,
    then deliver live events until the client leaves. Messages from the client are ignored."""
    try:
        user = await authenticate(websocket, token)
        after = parse_since(since)
    except Exception as error:
        # Accepted first: a close before the handshake completes reaches the client as HTTP
        # 403, without the code that tells it to sign in again.
        await websocket.accept()
        code = CLOSE_UNAUTHORIZED if getattr(error, "status_code", 0) == 401 else 4422
        await websocket.close(code, reason=str(getattr(error, "detail", ""))[:120])
        return
    app_hub = hub(websocket.app)
    await app_hub.start()
    connection = _Connection(websocket, str(user.id))
    # Attached before the handshake completes, so a client that connects and then acts sees
    # the events of its action; and before the replay, so nothing committed in between falls
    # through the gap. What arrives meanwhile waits in the queue, skipped if already replayed.
    app_hub.attach(connection)
    try:
        await websocket.accept()
        if after is not None:
            database = websocket.app.state.database
            for event in await events_since(database.autocommit, model, user.id, after):
                await connection.send(event)
        connection.task = asyncio.create_task(connection.run())
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    except (WebSocketDisconnect, TimeoutError, RuntimeError, OSError):
        pass
    finally:
        app_hub.detach(connection)
        if connection.task is not None:
            connection.task.cancel()
