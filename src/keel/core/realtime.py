"""Realtime events for any app: stored on a channel in the transaction of the change that caused
them, then fanned out to the WebSocket connections that follow that channel after the commit.

- **Channels and their sequence.** An event belongs to one channel (an app names them: a store's
  line, one user's own stream) and takes the channel's next sequence number from its row in
  `event_channels`, incremented in the event's own transaction. That row stays locked until the
  commit, so a channel's events commit in the order of their numbers and a rolled-back one
  gives its number back: every channel's committed events are numbered 1, 2, 3... without a
  gap. A client remembers a **cursor** (its position on each channel it follows) and resumes
  from it, over the WebSocket (`since=`) or REST, missing nothing and receiving nothing twice.
- **One stored event, many renderings.** An app's `Feed` says which channels a connection
  follows and renders each event for each viewer when it is sent (a store's one `queue_updated`
  becomes each waiting customer's own position), so a change costs one row however many
  people watch it.
- **Delivery** is in-process by default. With `KEEL_REDIS_URL` set, each committed batch is
  ONE message on the app's Redis channel (`keel:<slug>:events`); every process runs one
  subscriber that hands each event to its own connections following its channel. Publishing
  happens after the commit, so two processes may publish a channel's events out of order: a
  connection that sees a number skip fetches the missing ones from the table (one query per
  process and gap, shared by every connection waiting on it) before going on, and drops the
  late copies.
- **No socket holds up another.** Dispatch only puts the event on each connection's bounded
  queue; a task per connection renders and sends it. A connection whose queue overflows or
  whose send stalls is closed (1013); its client reconnects with its cursor and loses nothing.

An app declares `class Event(EventMixin, Base)` and `class EventChannel(EventChannelMixin,
Base)`, makes one `Realtime(event, channel, feed)`, takes its `sink` per request, serves `/ws`
with its `serve`, and registers its `start` and `stop` as startup and shutdown hooks.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson
from fastapi import Request
from sqlalchemy import BigInteger, String, and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from keel.core.db import Database, JSONColumn, after_commit, utcnow
from keel.core.errors import Unprocessable
from keel.core.sql import dialect_of, insert_adding

log = logging.getLogger("keel.realtime")

# Close codes: 4401 mirrors HTTP 401 for a bad token, 4404 a 404 (what the client asked to
# watch does not exist), 4422 a malformed parameter; 1013 ("try again later") for a client too
# slow to keep up, which reconnects with its cursor.
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 1013
SEND_QUEUE_SIZE = 1024
SEND_TIMEOUT_SECONDS = 5.0
REPLAY_LIMIT = 1000
CHANNEL_LENGTH = 64
# In a cursor, the signed-in user's own channel is written `me`.
OWN = "me"
MAX_CURSOR_ENTRIES = 64
# How long a process waits for an event another one overtook before fetching it.
FILL_SECONDS = 0.2
# REST reads at most this many batches of events the viewer is not shown before answering.
MISSED_BATCHES = 10


class EventChannelMixin:
    """A channel's last sequence number: the row each event's transaction locks and increments."""

    __tablename__ = "event_channels"

    name: Mapped[str] = mapped_column(String(CHANNEL_LENGTH), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class EventMixin:
    """One row per event per channel. Rows can be pruned once no client will ask for them."""

    __tablename__ = "events"

    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    created_at: Mapped[datetime] = mapped_column(index=True)


class Event:
    """A stored event. `rendered` caches what a feed renders once for many viewers (the same
    public payload for every watcher) in this process."""

    __slots__ = ("channel", "data", "name", "rendered", "seq")

    def __init__(self, channel: str, seq: int, name: str, data: dict[str, Any]):
        self.channel = channel
        self.seq = seq
        self.name = name
        self.data = data
        self.rendered: dict[Any, Any] = {}

    def row(self) -> tuple[str, int, str, dict[str, Any]]:
        return self.channel, self.seq, self.name, self.data


# What an app emits: (channel, event name, data).
Outgoing = tuple[str, str, dict[str, Any]]


class Feed(Protocol):
    """The app's side: who follows what, and what each viewer is sent."""

    async def viewer(self, db: Any, user: Any | None, params: Mapping[str, str]) -> tuple[Any, set[str]]:
        """The viewer's state and the channels it follows; raises a KeelError (its status
        becomes the close code, 4000 + status) to refuse. `user` is None without a token."""
        ...

    def own_channel(self, user_id: str) -> str: ...

    def observe(self, hub: "Hub", event: Event) -> None:
        """Called once per event in each process before it is handed out: where an event
        changes who follows a channel (a customer joins a line), follow or unfollow here."""
        ...

    def render(self, viewer: Any, event: Event) -> dict[str, Any] | None:
        """The data this viewer receives for this event, or None to send it nothing."""
        ...


# --- cursors -----------------------------------------------------------------------------------


Cursor = dict[str, int]
Since = Cursor | datetime | None


def format_cursor(cursor: Mapping[str, int], own: str | None) -> str:
    """`me:12,store/<id>:40`: the position on each channel; `me` is the user's own channel.
    Always written in one order (`me` first, then by name), so equal cursors are equal strings."""
    entries = sorted(cursor.items(), key=lambda entry: (entry[0] != own, entry[0]))
    return ",".join(f"{OWN if channel == own else channel}:{seq}" for channel, seq in entries)


def parse_since(value: str | None, own: str | None) -> Since:
    """A cursor (`me:12,store/<id>:40`), a bare number (the position on the user's own
    channel, as clients of the earlier single-stream design sent), or an ISO 8601 time with a
    zone; None or empty for none."""
    if value is None or value == "":
        return None
    if value.isascii() and value.isdigit():  # "³" is a digit to isdigit, not to int()
        return {own: int(value)} if own is not None else {}
    if ":" in value and not value[:4].isdigit():
        return _parse_cursor(value, own)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _bad_since()
    return moment


def _parse_cursor(value: str, own: str | None) -> Cursor:
    cursor: Cursor = {}
    entries = value.split(",")
    if len(entries) > MAX_CURSOR_ENTRIES:
        raise _bad_since()
    for entry in entries:
        channel, _, seq = entry.rpartition(":")
        if not channel or len(channel) > CHANNEL_LENGTH or not (seq.isascii() and seq.isdigit()):
            raise _bad_since()
        if channel == OWN:
            if own is None:
                continue
            channel = own
        cursor[channel] = int(seq)
    return cursor


def _bad_since() -> Unprocessable:
    return Unprocessable(
        "since must be a cursor (me:12,store/<id>:40), an event number, or an ISO 8601 time with "
        "a zone (2024-01-15T10:40:00Z)",
        loc=("query", "since"),
    )


# --- connections and the hub -------------------------------------------------------------------


class Connection:
    """One WebSocket: the channels it follows, its position on each, a bounded queue of events
    and the task that renders and sends them in order."""

    def __init__(self, hub: "Hub", websocket: WebSocket, user_id: str | None, viewer: Any):
        self.hub = hub
        self.websocket = websocket
        self.user_id = user_id
        self.own = hub.feed.own_channel(user_id) if user_id is not None else None
        self.viewer = viewer
        self.channels: set[str] = set()
        # The last number sent (or skipped) on each channel; a channel without one takes its
        # first live event as it comes.
        self.cursor: Cursor = {}
        self.queue: asyncio.Queue[Event] = asyncio.Queue(SEND_QUEUE_SIZE)
        self.task: asyncio.Task[None] | None = None

    def push(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("closing a WebSocket that cannot keep up", extra={"user_id": self.user_id})
            self._close_soon(CLOSE_TOO_SLOW)

    async def deliver(self, event: Event) -> None:
        """Send the event unless already sent; first what is missing before it, if anything."""
        last = self.cursor.get(event.channel)
        if last is not None:
            if event.seq <= last:
                return
            if event.seq > last + 1:
                for missed in await self.hub.between(event.channel, last, event.seq):
                    await self.send(missed)
        await self.send(event)

    async def send(self, event: Event) -> None:
        data = self.hub.feed.render(self.viewer, event)
        self.cursor[event.channel] = event.seq
        if data is None:
            return
        message = {"id": format_cursor(self.cursor, self.own), "event": event.name, "data": data}
        # A timeout scope, not wait_for: that wraps every send in a task of its own, a cost
        # paid ten thousand times when one change reaches ten thousand customers.
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            await self.websocket.send_text(orjson.dumps(message).decode())

    async def run(self) -> None:
        try:
            while True:
                await self.deliver(await self.queue.get())
        except (TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            self._close_soon(CLOSE_TOO_SLOW)
        except Exception:
            # The database failed to give the missing events: better closed (the client
            # reconnects with its cursor) than open with a hole.
            log.exception("closing a WebSocket that could not be caught up")
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
    """One app's connections in this process, by channel and by user, and the way events
    reach them."""

    def __init__(self, realtime: "Realtime", redis: Any | None, database: Database):
        self.realtime = realtime
        self.feed = realtime.feed
        self.redis = redis
        self.database = database
        self.channel = f"keel:{realtime.slug}:events"
        self._channels: dict[str, set[Connection]] = defaultdict(set)
        self._users: dict[str, set[Connection]] = defaultdict(set)
        self._all: set[Connection] = set()
        # Missing events being fetched, by (channel, after, before): one query for everyone.
        self._fetches: dict[tuple[str, int, int], asyncio.Future[list[Event]]] = {}
        # Per channel: the last number handed out here, and the later ones that arrived first
        # (waiting for the ones they overtook).
        self._last: dict[str, int] = {}
        self._held: dict[str, dict[int, Event]] = {}
        self._subscriber: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def connection_count(self) -> int:
        return len(self._all)

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
        for connection in list(self._all):
            await _close_quietly(connection.websocket, 1001)

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        if self.redis is None:
            self.dispatch(events)
            return
        await self.redis.publish(self.channel, orjson.dumps([event.row() for event in events]))

    def dispatch(self, events: Iterable[Event]) -> None:
        """Hand each event, in its channel's order, to the connections following the channel;
        never waits on a socket. One that overtook another is held until the other arrives
        (publishes after commits race by milliseconds) or, after `FILL_SECONDS`, is fetched."""
        for event in events:
            channel = event.channel
            if channel not in self._channels and channel not in self._held:
                # Nobody here follows it: no order to keep (a socket that starts following
                # reads its position, and its own gap check covers the moment after).
                self._last.pop(channel, None)
                self.feed.observe(self, event)
                for connection in self._channels.get(channel, ()):
                    connection.push(event)  # the one `observe` just moved onto it
                continue
            last = self._last.get(channel)
            if last is not None and event.seq <= last:
                continue  # a late copy of what was fetched
            if last is None or event.seq == last + 1:
                self._hand_out(event)
                self._release(channel)
                continue
            held = self._held.get(channel)
            if held is None:
                held = self._held[channel] = {}
                task = asyncio.ensure_future(self._fill(channel))
                _background.add(task)
                task.add_done_callback(_background.discard)
            held[event.seq] = event

    def _hand_out(self, event: Event) -> None:
        self._last[event.channel] = event.seq
        self.feed.observe(self, event)
        for connection in self._channels.get(event.channel, ()):
            connection.push(event)

    def _release(self, channel: str) -> None:
        held = self._held.get(channel)
        if held is None:
            return
        while (nxt := held.pop(self._last[channel] + 1, None)) is not None:
            self._hand_out(nxt)
        if not held:
            del self._held[channel]

    async def _fill(self, channel: str) -> None:
        """What is still missing after a while comes from the table (a publisher that died
        between its commit and its publish, or a Redis message lost)."""
        await asyncio.sleep(FILL_SECONDS)
        held = self._held.get(channel)
        if not held:
            return
        try:
            missing = await self.realtime.events(
                self.database.autocommit, {channel: self._last[channel]}, before=max(held)
            )
        except Exception:
            log.exception("could not fetch the events a channel is missing; handing out what is here")
            missing = []
        for event in missing:
            held.setdefault(event.seq, event)
        # Whatever is still absent is skipped here; each socket's own gap check asks again.
        for seq in sorted(self._held.pop(channel, {})):
            if seq > self._last[channel]:
                self._hand_out(held[seq])

    def track(self, channel: str, seq: int) -> None:
        """A channel this process hears of first from a connection: its committed position."""
        self._last.setdefault(channel, seq)

    def connections_of(self, user_id: str) -> set[Connection]:
        return self._users.get(user_id, set())

    def follow(self, connection: Connection, channel: str, from_seq: int | None = None) -> None:
        """From now on the connection hears the channel; with `from_seq`, from that number on."""
        connection.channels.add(channel)
        self._channels[channel].add(connection)
        if from_seq is not None:
            connection.cursor[channel] = from_seq - 1

    def unfollow(self, connection: Connection, channel: str) -> None:
        connection.channels.discard(channel)
        connection.cursor.pop(channel, None)
        followers = self._channels.get(channel)
        if followers is not None:
            followers.discard(connection)
            if not followers:
                del self._channels[channel]

    def attach(self, connection: Connection, channels: Iterable[str]) -> None:
        self._all.add(connection)
        if connection.user_id is not None:
            self._users[connection.user_id].add(connection)
        for channel in channels:
            self.follow(connection, channel)

    def detach(self, connection: Connection) -> None:
        self._all.discard(connection)
        for channel in list(connection.channels):
            self.unfollow(connection, channel)
        if connection.user_id is not None:
            mine = self._users.get(connection.user_id)
            if mine is not None:
                mine.discard(connection)
                if not mine:
                    del self._users[connection.user_id]

    async def between(self, channel: str, after: int, before: int) -> list[Event]:
        """The committed events of a channel numbered strictly between two numbers: those a
        later one overtook on the way here. They are committed (the later one waited for their
        lock), so the table has them."""
        key = (channel, after, before)
        fetch = self._fetches.get(key)
        if fetch is None:
            fetch = self._fetches[key] = asyncio.ensure_future(
                self.realtime.events(self.database.autocommit, {channel: after}, before=before)
            )
            fetch.add_done_callback(lambda _: self._fetches.pop(key, None))
        return await asyncio.shield(fetch)

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
                # Events published meanwhile are not lost: the next one on a channel fetches
                # them, and clients catch up with their cursor.
                log.exception("realtime subscriber lost Redis; resubscribing")
                await _close_pubsub(pubsub)
                await asyncio.sleep(1)


async def _close_pubsub(pubsub: Any) -> None:
    with contextlib.suppress(Exception):
        await pubsub.aclose()


_BATCH = "keel_realtime_batch"


class EventSink:
    """One request's events: stored in its transaction, published once after its commit."""

    def __init__(self, request: Request, realtime: "Realtime"):
        self.request = request
        self.realtime = realtime

    async def emit(self, session: AsyncSession, outgoing: Sequence[Outgoing]) -> list[Event]:
        """Number the events on their channels and insert them in one multi-row statement;
        they leave after the commit, together with the request's other events. Call it once per
        transaction where one can: channels are locked in name order within a call, so two
        transactions cannot deadlock on them."""
        if not outgoing:
            return []
        by_channel: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for channel, name, data in outgoing:
            by_channel[channel].append((name, data))
        events: list[Event] = []
        for channel in sorted(by_channel):
            items = by_channel[channel]
            last = await self.realtime.take(session, channel, len(items))
            first = last - len(items) + 1
            events += [Event(channel, first + n, name, data) for n, (name, data) in enumerate(items)]
        now = utcnow()
        await session.execute(
            insert(self.realtime.event_model.__table__),
            [
                {"channel": e.channel, "seq": e.seq, "name": e.name, "data": e.data, "created_at": now}
                for e in events
            ],
        )
        state = self.request.scope["state"]
        batch = state.get(_BATCH)
        if batch is None:
            batch = state[_BATCH] = []
            app_hub = self.realtime.hub(self.request.app)
            after_commit(self.request, lambda: app_hub.publish(batch))
        batch.extend(events)
        return events


Authenticate = Callable[[HTTPConnection, str], Awaitable[Any]]


class Realtime:
    """One app's realtime: its two tables, its feed, and the entry points that use them."""

    def __init__(self, slug: str, event_model: type, channel_model: type, feed: Feed):
        self.slug = slug
        self.event_model: Any = event_model
        self.channel_model: Any = channel_model
        self.feed = feed

    def hub(self, app: Any) -> Hub:
        """The app's hub, made on first use (an app served without a lifespan still delivers)."""
        state = app.state
        existing = getattr(state, "realtime_hub", None)
        if existing is None:
            existing = state.realtime_hub = Hub(self, state.redis, state.database)
        return existing

    async def start(self, app: Any) -> None:
        """Startup hook: with Redis, the process's subscriber."""
        await self.hub(app).start()

    async def stop(self, app: Any) -> None:
        """Shutdown hook: stop the subscriber and close the connections (1001, going away)."""
        await self.hub(app).stop()

    async def sink(self, request: Request) -> EventSink:
        """The request's events (a dependency)."""
        return EventSink(request, self)

    async def take(self, session: AsyncSession, channel: str, count: int) -> int:
        """Add `count` to the channel's number and answer the new last one; the row stays locked
        until the transaction ends. One upsert that locks the row exclusively at once (on MySQL,
        then a read of the row it holds: its upsert returns nothing)."""
        table = self.channel_model.__table__
        upsert = insert_adding(session, table, ["name"], ["seq"]).values(name=channel, seq=count)
        if dialect_of(session) != "mysql":
            return (await session.execute(upsert.returning(table.c.seq))).scalar_one()
        await session.execute(upsert)
        return (await session.execute(select(table.c.seq).where(table.c.name == channel))).scalar_one()

    async def positions(self, db: Any, channels: Iterable[str]) -> Cursor:
        """Each channel's last committed number (0 for one that has had no event)."""
        names = list(channels)
        if not names:
            return {}
        table = self.channel_model.__table__
        rows = await db.execute(select(table.c.name, table.c.seq).where(table.c.name.in_(names)))
        found = {row.name: row.seq for row in rows}
        return {name: found.get(name, 0) for name in names}

    async def events(
        self, db: Any, cursor: Mapping[str, int], *, before: int | None = None, limit: int = REPLAY_LIMIT
    ) -> list[Event]:
        """The events after each channel's position (and, with `before`, under that number),
        each channel in order; channels one after another."""
        if not cursor:
            return []
        table = self.event_model.__table__
        after = or_(*(and_(table.c.channel == channel, table.c.seq > seq) for channel, seq in cursor.items()))
        statement = select(table.c.channel, table.c.seq, table.c.name, table.c.data).where(after)
        if before is not None:
            statement = statement.where(table.c.seq < before)
        rows = await db.execute(statement.order_by(table.c.channel, table.c.seq).limit(limit))
        return [Event(row.channel, row.seq, row.name, row.data) for row in rows]

    async def events_from(self, db: Any, channels: Iterable[str], moment: datetime) -> list[Event]:
        """The channels' events stored at or after a time, each channel in order."""
        table = self.event_model.__table__
        statement = (
            select(table.c.channel, table.c.seq, table.c.name, table.c.data)
            .where(table.c.channel.in_(list(channels)), table.c.created_at >= moment)
            .order_by(table.c.channel, table.c.seq)
            .limit(REPLAY_LIMIT)
        )
        return [Event(row.channel, row.seq, row.name, row.data) for row in await db.execute(statement)]

    async def missed(
        self, db: Any, user: Any, since: str | None, limit: int = REPLAY_LIMIT
    ) -> tuple[list[dict[str, Any]], str]:
        """For REST: what the user's channels carried after `since`, rendered for the user, and
        the cursor to ask with next time. Without `since`, from each channel's start."""
        viewer, channels = await self.feed.viewer(db, user, {})
        own = self.feed.own_channel(str(user.id))
        after = parse_since(since, own)
        cursor: Cursor = {channel: 0 for channel in sorted(channels)}
        rendered: list[dict[str, Any]] = []
        if isinstance(after, datetime):
            self._render(viewer, await self.events_from(db, channels, after), cursor, own, rendered)
            return rendered[:limit], format_cursor(cursor, own)
        cursor |= {channel: seq for channel, seq in (after or {}).items() if channel in channels}
        # Events this viewer is not shown (a line's changes before they joined it) still move
        # the cursor: read on until something is shown or nothing is left.
        for _ in range(MISSED_BATCHES):
            found = await self.events(db, cursor, limit=limit)
            self._render(viewer, found, cursor, own, rendered)
            if rendered or len(found) < limit:
                break
        return rendered, format_cursor(cursor, own)

    def _render(
        self, viewer: Any, found: list[Event], cursor: Cursor, own: str, into: list[dict[str, Any]]
    ) -> None:
        for event in found:
            cursor[event.channel] = event.seq
            data = self.feed.render(viewer, event)
            if data is not None:
                into.append({"id": format_cursor(cursor, own), "event": event.name, "data": data})

    async def serve(
        self, websocket: WebSocket, *, authenticate: Authenticate, token: str, since: str | None
    ) -> None:
        """Authenticate when there is a token (a bad one closes with 4401), find what the viewer
        follows, accept, replay what came after `since`, then deliver live events until the
        client leaves. Messages from the client are ignored."""
        database: Database = websocket.app.state.database
        try:
            user = await authenticate(websocket, token) if token else None
            viewer, channels = await self.feed.viewer(database.autocommit, user, websocket.query_params)
            user_id = str(user.id) if user is not None else None
            after = parse_since(since, self.feed.own_channel(user_id) if user_id else None)
        except Exception as error:
            # Accepted first: a close before the handshake completes reaches the client as HTTP
            # 403, without the code that tells it to sign in again.
            await websocket.accept()
            status = getattr(error, "status_code", 0)
            code = 4000 + status if status in (401, 403, 404) else 4422
            if not isinstance(getattr(error, "status_code", None), int):
                log.exception("refusing a WebSocket")
            await websocket.close(code, reason=str(getattr(error, "detail", ""))[:120])
            return
        app_hub = self.hub(websocket.app)
        await app_hub.start()
        connection = Connection(app_hub, websocket, user_id, viewer)
        # Attached before the handshake completes, so a client that connects and then acts sees
        # the events of its action; and before the positions are read and the replay, so nothing
        # committed in between falls through the gap. What arrives meanwhile waits in the
        # queue, skipped if already sent.
        app_hub.attach(connection, channels)
        try:
            await self._start_from(connection, channels, after, database)
            await websocket.accept()
            if isinstance(after, datetime):
                for event in await self.events_from(database.autocommit, channels, after):
                    await connection.send(event)
            elif after:
                replay = {channel: seq for channel, seq in after.items() if channel in channels}
                for event in await self.events(database.autocommit, replay):
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

    async def _start_from(
        self, connection: Connection, channels: set[str], after: Since, database: Database
    ) -> None:
        """Each followed channel's starting position: the cursor's, or (for a channel it does
        not name, or without one) the last committed number, so what follows is all live."""
        named = after if isinstance(after, dict) else {}
        rest = [channel for channel in channels if channel not in named]
        if isinstance(after, datetime):
            return
        for channel, seq in (await self.positions(database.autocommit, rest)).items():
            connection.cursor.setdefault(channel, seq)
            connection.hub.track(channel, seq)
        for channel, seq in named.items():
            if channel in channels:
                connection.cursor[channel] = seq
