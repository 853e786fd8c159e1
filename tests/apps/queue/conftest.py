import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from keel.apps import load_app
from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.queue import builders
from tests.apps.queue.builders import Account
from tests.databases import empty_tables


@pytest.fixture
async def owner(queue: httpx.AsyncClient) -> Account:
    return await builders.account(queue, name="Store Owner")


@pytest.fixture
async def customer(queue: httpx.AsyncClient) -> Account:
    return await builders.account(queue, name="Customer")


@pytest.fixture
async def store_id(queue: httpx.AsyncClient, owner: Account) -> str:
    return await builders.store(queue, owner, name="阿明理髮店", description="Haircuts and shaves")


@dataclass
class Live:
    """The queue app served by uvicorn on a real port, on the test's own event loop (the one
    its database engine lives on), so WebSocket clients and HTTP requests meet one hub."""

    http: httpx.AsyncClient
    ws_url: str


@pytest.fixture
async def live(queue_database: Database, settings: Settings) -> AsyncIterator[Live]:
    app = build_server(settings, only="queue", databases={"queue": queue_database})
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        yield Live(http, f"ws://127.0.0.1:{port}/ws")
    server.should_exit = True
    await task
    await empty_tables(queue_database, load_app("queue").metadata)
