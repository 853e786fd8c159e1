"""A process's connections and the hub that hands each committed event to those following its
channel, in number order, in-process or through one Redis subscriber."""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from keel.core.db import Database
from keel.core.realtime.events import (
    BUSY_GAP_SECONDS,
    CLOSE_TOO_SLOW,
    FILL_SECONDS,
    SEND_QUEUE_SIZE,
    SEND_TIMEOUT_SECONDS,
    STATE_INTERVAL_SECONDS,
    Cursor,
    Event,
    format_cursor,
    superseded,
)

if TYPE_CHECKING:
    from keel.core.realtime.service import Realtime

log = logging.getLogger("keel.realtime")


def encoded(events: Sequence[Event]) -> bytes:
    """Events as one Redis message, as every process's subscriber reads them."""
    return orjson.dumps([event.row() for event in events])


class Connection:
    """One WebSocket: the channels it follows, its position on each, the events waiting to be
    sent and the task that renders and sends them, each channel in order."""

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
        # Per channel, the events waiting, each as (the first number it stands for, event): a
        # state that arrives while the previous one still waits takes its place and stands for
        # both (Feed.states), so a socket that falls behind a busy line sends its latest state,
        # not every step. `ready` holds each channel with events waiting once, in the order
        # they came; `backlog` counts the entries, bounded: past it the socket is closed.
        self.waiting: dict[str, list[tuple[int, Event]]] = {}
        self.ready: asyncio.Queue[str] = asyncio.Queue()
        self.backlog = 0
        # Per channel, when a state was last sent (loop time): on a busy channel the next waits
        # for STATE_INTERVAL_SECONDS after it.
        self.state_sent: dict[str, float] = {}
        self.task: asyncio.Task[None] | None = None

    def push(self, event: Event) -> None:
        run = self.waiting.get(event.channel)
        if run is not None:
            start, last = run[-1]
            if last.name == event.name and event.seq == last.seq + 1 and event.name in self.hub.feed.states:
                run[-1] = (start, event)
                return
        if self.backlog >= SEND_QUEUE_SIZE:
            log.warning("closing a WebSocket that cannot keep up", extra={"user_id": self.user_id})
            self._close_soon(CLOSE_TOO_SLOW)
            return
        self.backlog += 1
        if run is None:
            self.waiting[event.channel] = [(event.seq, event)]
        else:
            run.append((event.seq, event))
        if event.name not in self.hub.feed.states:
            self.ready.put_nowait(event.channel)
        elif run is None:
            loop = asyncio.get_running_loop()
            due = self.state_sent.get(event.channel, -STATE_INTERVAL_SECONDS) + STATE_INTERVAL_SECONDS
            if self.hub.is_busy(event.channel) and due > loop.time():
                loop.call_at(due, self.ready.put_nowait, event.channel)
            else:
                self.ready.put_nowait(event.channel)

    async def deliver(self, start: int, event: Event) -> None:
        """Send the event unless already sent; first what is missing before the numbers it
        stands for (from `start`), if anything."""
        last = self.cursor.get(event.channel)
        if last is not None:
            if event.seq <= last:
                return
            if start > last + 1:
                await self.send_all([*await self.hub.between(event.channel, last, start), event])
                return
        await self.send(event)

    async def send_all(self, events: list[Event]) -> None:
        """Events in channel order, of each run of states only the last (the others' numbers
        count as sent)."""
        for event, skip in zip(events, superseded(events, self.hub.feed.states), strict=True):
            if skip:
                self.cursor[event.channel] = event.seq
            else:
                await self.send(event)

    async def send(self, event: Event) -> None:
        data = self.hub.feed.render(self.viewer, event)
        self.cursor[event.channel] = event.seq
        if event.name in self.hub.feed.states:
            self.state_sent[event.channel] = asyncio.get_running_loop().time()
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
                # None: sent already, with an event that did not wait (a state's timer after it).
                run = self.waiting.pop(await self.ready.get(), None)
                if run is None:
                    continue
                self.backlog -= len(run)
                for start, event in run:
                    await self.deliver(start, event)
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
        self.channel = realtime.redis_channel
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
        # Per channel: when its last state was handed out here (loop time), and the busy ones
        # (BUSY_GAP_SECONDS, STATE_INTERVAL_SECONDS).
        self._state_at: dict[str, float] = {}
        self._busy: set[str] = set()

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
        await self.redis.publish(self.channel, encoded(events))

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
                self._state_at.pop(channel, None)
                self._busy.discard(channel)
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

    def is_busy(self, channel: str) -> bool:
        return channel in self._busy

    def _note_arrival(self, event: Event) -> None:
        if event.name not in self.feed.states:
            return
        now = asyncio.get_running_loop().time()
        before = self._state_at.get(event.channel)
        self._state_at[event.channel] = now
        gap = now - before if before is not None else STATE_INTERVAL_SECONDS
        if gap < (STATE_INTERVAL_SECONDS if event.channel in self._busy else BUSY_GAP_SECONDS):
            self._busy.add(event.channel)
        else:
            self._busy.discard(event.channel)

    def _hand_out(self, event: Event) -> None:
        self._last[event.channel] = event.seq
        self._note_arrival(event)
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
