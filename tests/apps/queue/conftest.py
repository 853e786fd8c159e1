from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from keel.apps import load_app
from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.queue import builders
from tests.apps.queue.builders import Account
from tests.databases import empty_tables
from tests.serving import in_process


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
    async with in_process(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield Live(http, url.replace("http", "ws", 1) + "/ws")
    await empty_tables(queue_database, load_app("queue").metadata)
