"""Two real server processes on one PostgreSQL database, joined by Redis: a WebSocket client of
one process hears about changes made through the other."""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect

from keel.apps import load_app
from keel.apps.queue.models import Booking
from keel.apps.queue.services.days import local_day
from keel.core.db import utcnow
from keel.settings import Settings
from tests.apps.queue import builders
from tests.databases import REDIS_URL, SERVER_URLS, drop_database, migrated_database, require_service
from tests.serving import serving

SRC = Path(__file__).resolve().parents[3] / "src"


class Servers(NamedTuple):
    a: str
    b: str
    database_url: str


@pytest.fixture
async def two_servers(data_dir: Path, settings: Settings) -> AsyncIterator[Servers]:
    require_service("postgresql", SERVER_URLS["postgresql"])
    require_service("redis", REDIS_URL)
    url = await migrated_database("postgresql", load_app("queue"), data_dir, suffix="_processes")
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "KEEL_QUEUE_DATABASE_URL": url,
        "KEEL_REDIS_URL": REDIS_URL,
        "KEEL_SECRET_KEY": settings.secret_key,  # a token from one process must open the other
        "KEEL_DATA_DIR": str(data_dir),
        "KEEL_ENV": "test",
        "KEEL_ACCESS_LOG": "false",
        "KEEL_DATABASE_POOL_SIZE": "2",
        # Both processes check every half second; the lease lets one of them close a day.
        "KEEL_QUEUE_DAY_SWEEP_SECONDS": "0.5",
    }
    try:
        with ExitStack() as servers:
            a, b = (
                servers.enter_context(serving(env, "--app", "queue", log=data_dir / f"queue-process-{n}.log"))
                for n in range(2)
            )
            yield Servers(a.url, b.url, url)
    finally:
        await drop_database("postgresql", url)


async def test_an_event_caused_through_one_process_reaches_a_websocket_on_the_other(
    two_servers: Servers,
) -> None:
    a_base, b_base, _ = two_servers
    async with httpx.AsyncClient(base_url=a_base) as a, httpx.AsyncClient(base_url=b_base) as b:
        owner = await builders.account(a, name="Owner")
        store_id = await builders.store(a, owner, name="Two Processes")
        first, second = await builders.account(a), await builders.account(b)
        booking = await builders.booking(a, first, store_id)
        await builders.booking(b, second, store_id)
        ws_b = b_base.replace("http", "ws") + "/ws"
        ws_a = a_base.replace("http", "ws") + "/ws"
        async with (
            connect(f"{ws_b}?token={second.token}") as on_b,
            connect(f"{ws_a}?token={owner.token}") as on_a,
        ):
            assert (await builders.set_status(a, owner, booking["id"], "serving")).status_code == 200
            event = json.loads(await asyncio.wait_for(on_b.recv(), 5))
            assert event["event"] == "queue_updated"
            assert (event["data"]["store_id"], event["data"]["your_position"]) == (store_id, 1)
            assert (event["data"]["current_queue_count"], event["data"]["estimated_wait_time"]) == (1, 0)
            # And the other way: a message sent through B reaches the owner's socket on A.
            await asyncio.wait_for(on_a.recv(), 5)  # the owner's own queue_updated from the move
            mine = (await b.get("/bookings/my-bookings", headers=second.headers)).json()["bookings"][0]["id"]
            sent = await b.post(f"/chats/{mine}/messages", json={"content": "across"}, headers=second.headers)
            assert sent.status_code == 201
            # The owner heard the move (booking_status_changed) before the message.
            moved = json.loads(await asyncio.wait_for(on_a.recv(), 5))
            assert (moved["event"], moved["data"]["new_status"]) == ("booking_status_changed", "serving")
            message = json.loads(await asyncio.wait_for(on_a.recv(), 5))
            assert message["event"] == "new_message"
            assert (message["data"]["message"]["id"], message["data"]["message"]["content"]) == (
                sent.json()["id"],
                "across",
            )


async def test_a_client_that_reconnects_to_the_other_process_with_its_cursor_misses_nothing(
    two_servers: Servers,
) -> None:
    a_base, b_base, _ = two_servers
    ws_a, ws_b = (base.replace("http", "ws") + "/ws" for base in (a_base, b_base))
    async with httpx.AsyncClient(base_url=a_base) as a, httpx.AsyncClient(base_url=b_base) as b:
        owner = await builders.account(a, name="Owner")
        store_id = await builders.store(a, owner)
        first, second = await builders.account(a), await builders.account(a)
        head = await builders.booking(a, first, store_id)
        mine = await builders.booking(a, second, store_id)
        async with connect(f"{ws_a}?token={second.token}") as on_a:
            await builders.set_status(b, owner, head["id"], "serving")  # through the other process
            seen = json.loads(await asyncio.wait_for(on_a.recv(), 5))
        assert (seen["event"], seen["data"]["your_position"]) == ("queue_updated", 1)
        # Offline: changes through both processes, on the line and on the customer's own stream.
        others = [await builders.account(a) for _ in range(4)]
        for n, person in enumerate(others):
            await builders.booking(a if n % 2 else b, person, store_id)
        for n, text in enumerate(("one", "two", "three")):
            client = a if n % 2 else b
            await client.post(f"/chats/{mine['id']}/messages", json={"content": text}, headers=owner.headers)
        async with connect(f"{ws_b}?token={second.token}&since={seen['id']}") as on_b:
            # The line's four changes as its latest state (each is the whole line), then
            # every message.
            replayed = [json.loads(await asyncio.wait_for(on_b.recv(), 5)) for _ in range(4)]
            line = replayed[0]["data"]
            assert (line["current_queue_count"], line["your_position"]) == (5, 1)
            assert [e["data"]["message"]["content"] for e in replayed[1:]] == ["one", "two", "three"]
            # Then live, from either process, once each.
            await builders.booking(a, await builders.account(a), store_id)
            live = json.loads(await asyncio.wait_for(on_b.recv(), 5))
            assert (live["event"], live["data"]["current_queue_count"]) == ("queue_updated", 6)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(on_b.recv(), 0.3)
        assert len({e["id"] for e in (*replayed, live)}) == 5


async def test_a_days_end_closed_by_one_process_reaches_the_sockets_of_both(two_servers: Servers) -> None:
    """The end-of-day sweep runs in whichever process wins its lease, outside any request; its
    events still reach every process's sockets through Redis."""
    a_base, b_base, database_url = two_servers
    async with httpx.AsyncClient(base_url=a_base) as a:
        owner = await builders.account(a, name="Owner")
        store_id = await builders.store(a, owner)
        late = await builders.account(a)
        missed = await builders.booking(a, late, store_id)
        ws_a, ws_b = (base.replace("http", "ws") + "/ws" for base in (a_base, b_base))
        async with (
            connect(f"{ws_a}?token={late.token}") as on_a,
            connect(f"{ws_b}?store_id={store_id}") as on_b,
        ):
            # The booking becomes yesterday's (Taipei's, the stores' default zone).
            engine = create_async_engine(database_url)
            try:
                async with engine.begin() as connection:
                    await connection.execute(
                        update(Booking)
                        .where(Booking.id == uuid.UUID(missed["id"]))
                        .values(queue_day=local_day("Asia/Taipei", utcnow()) - timedelta(days=1))
                    )
            finally:
                await engine.dispose()
            changed = json.loads(await asyncio.wait_for(on_a.recv(), 5))
            assert (changed["event"], changed["data"]["new_status"]) == ("booking_status_changed", "no_show")
            line = json.loads(await asyncio.wait_for(on_b.recv(), 5))
            assert (line["event"], line["data"]["current_queue_count"]) == ("queue_updated", 0)
            with pytest.raises(TimeoutError):  # closed once, by one of the two
                await asyncio.wait_for(on_a.recv(), 1.5)
