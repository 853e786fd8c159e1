"""schemathesis explores every operation of the shop's OpenAPI schema with generated input,
signed in as an admin, against a real server in this process; no answer may be a 5xx, and
every answer must match the schema the app publishes."""

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from keel.apps import load_app
from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.databases import drop_database, migrated_database


@dataclass
class LiveServer:
    base_url: str
    settings: Settings


def _serve(server: uvicorn.Server, url: str, settings: Settings) -> None:
    async def main() -> None:
        # The engine is made on the server's own event loop, the one its connections live on.
        database = Database(url)
        server.config.app = build_server(settings, only="shop", databases={"shop": database})
        server.config.loaded = False
        await server.serve()

    asyncio.run(main())


@pytest.fixture(scope="module")
async def live_shop(dialect: str, data_dir: Path, settings: Settings) -> AsyncIterator[LiveServer]:
    keel_app = load_app("shop")
    url = await migrated_database(dialect, keel_app, data_dir, suffix="_contract")
    seeding = Database(url)
    async with seeding.sessionmaker() as session:
        await keel_app.seed(session, settings)
        await session.commit()
    await seeding.dispose()

    config = uvicorn.Config(
        app=None, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=_serve, args=(server, url, settings), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the contract-test server did not start"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield LiveServer(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(timeout=10)
    await drop_database(dialect, url)


@pytest.fixture
def admin_headers(live_shop: LiveServer) -> dict[str, str]:
    # A fresh admin token per operation: one operation's calls may well include logging out.
    credentials = {"email": live_shop.settings.admin_email, "password": live_shop.settings.admin_password}
    token = httpx.post(f"{live_shop.base_url}/api/auth/login", json=credentials).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


# The document only: requests go to the live server's base URL.
schema = schemathesis.openapi.from_dict(
    load_app("shop").build(Settings(), Database("sqlite+aiosqlite://")).openapi()
)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_shop_honours_its_own_schema(case, live_shop: LiveServer, admin_headers: dict[str, str]) -> None:
    case.call_and_validate(
        base_url=live_shop.base_url,
        headers=admin_headers,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
