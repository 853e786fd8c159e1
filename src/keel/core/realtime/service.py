"""One app's realtime (`Realtime`): its request sink, the REST replay and the WebSocket
endpoint."""

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

from keel.core.db import Database, after_commit, utcnow
from keel.core.realtime.events import (
    MISSED_BATCHES,
    REPLAY_LIMIT,
    Cursor,
    Event,
    Feed,
    Outgoing,
    Since,
    format_cursor,
    parse_since,
    superseded,
)
from keel.core.realtime.hub import Connection, Hub, encoded
from keel.core.redis import connect as connect_redis
from keel.core.sql import dialect_of, insert_adding
from keel.settings import Settings

log = logging.getLogger("keel.realtime")

_BATCH = "keel_realtime_batch"


class EventSink:
    """One request's events: stored in its transaction, published once after its commit."""

    def __init__(self, request: Request, realtime: "Realtime"):
        self.request = request
        self.realtime = realtime

    async def emit(self, session: AsyncSession, outgoing: Sequence[Outgoing]) -> list[Event]:
        """Stored in the request's transaction (`Realtime.store`: call it once per transaction
        where one can); they leave after the commit, together with the request's other events."""
        events = await self.realtime.store(session, outgoing)
        if not events:
            return []
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
        # This process's hubs of the app (one each served instance), for `publish_committed`.
        self._hubs: weakref.WeakSet[Hub] = weakref.WeakSet()

    @property
    def redis_channel(self) -> str:
        return f"keel:{self.slug}:events"

    def hub(self, app: Any) -> Hub:
        """The app's hub, made on first use (an app served without a lifespan still delivers)."""
        state = app.state
        existing = getattr(state, "realtime_hub", None)
        if existing is None:
            existing = state.realtime_hub = Hub(self, state.redis, state.database)
            self._hubs.add(existing)
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

    async def store(self, session: AsyncSession, outgoing: Sequence[Outgoing]) -> list[Event]:
        """Number the events on their channels and insert them in one multi-row statement, in
        the session's transaction. Channels are locked in name order within a call, so two
        transactions cannot deadlock on them."""
        if not outgoing:
            return []
        by_channel: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for channel, name, data in outgoing:
            by_channel[channel].append((name, data))
        events: list[Event] = []
        for channel in sorted(by_channel):
            items = by_channel[channel]
            last = await self.take(session, channel, len(items))
            first = last - len(items) + 1
            events += [Event(channel, first + n, name, data) for n, (name, data) in enumerate(items)]
        now = utcnow()
        await session.execute(
            insert(self.event_model.__table__),
            [
                {"channel": e.channel, "seq": e.seq, "name": e.name, "data": e.data, "created_at": now}
                for e in events
            ],
        )
        return events

    async def publish_committed(self, settings: Settings, events: Sequence[Event]) -> None:
        """For work without a request (a sweep, perhaps in `keel worker`): events `store`d in a
        transaction that has committed. With Redis, to every process; without, to this
        process's own sockets (the only ones there are)."""
        if not events:
            return
        if settings.redis_url:
            client = connect_redis(settings)
            assert client is not None
            try:
                await client.publish(self.redis_channel, encoded(events))
            finally:
                await client.aclose()
            return
        for local in list(self._hubs):
            local.dispatch(events)

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
        for event, skip in zip(found, superseded(found, self.feed.states), strict=True):
            cursor[event.channel] = event.seq
            if skip:
                continue
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
                await connection.send_all(await self.events_from(database.autocommit, channels, after))
            elif after:
                replay = {channel: seq for channel, seq in after.items() if channel in channels}
                await connection.send_all(await self.events(database.autocommit, replay))
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
