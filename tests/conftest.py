from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from keel.apps import load_app
from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.databases import DIALECTS, drop_database, empty_tables, migrated_database, require_reachable


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _run_coroutine_tests_on_anyio(anyio_backend: str) -> None:
    """Requesting the backend is what makes anyio's plugin run `async def` tests."""


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keel-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(env="test", data_dir=data_dir, access_log=False, secret_key="t" * 48)


@pytest.fixture(scope="session", params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    require_reachable(request.param)
    return request.param


@pytest.fixture(scope="session")
async def shop_database(dialect: str, data_dir: Path) -> AsyncIterator[Database]:
    url = await migrated_database(dialect, load_app("shop"), data_dir)
    # Bounded below PostgreSQL's 100 connections, so 100 concurrent orders queue for a connection.
    database = Database(url, pool_size=20, max_overflow=10)
    yield database
    await database.dispose()
    await drop_database(dialect, url)


@pytest.fixture
async def shop(shop_database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the shop served at the root, as `keel serve --app shop` serves it."""
    server = build_server(settings, only="shop", databases={"shop": shop_database})
    transport = httpx.ASGITransport(app=server)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        yield client
    await empty_tables(shop_database, load_app("shop").metadata)
