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


async def _app_database(slug: str, dialect: str, data_dir: Path) -> AsyncIterator[Database]:
    url = await migrated_database(dialect, load_app(slug), data_dir)
    # Few connections kept per engine, more opened for bursts (100 concurrent orders): every
    # app's databases together, on each of `make test`'s two workers, stay under PostgreSQL's
    # 100 connections.
    database = Database(url, pool_size=2, max_overflow=28)
    yield database
    await database.dispose()
    await drop_database(dialect, url)


async def _app_client(slug: str, database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for one app served at the root, as `keel serve --app <slug>` serves it;
    the tables are emptied afterwards."""
    server = build_server(settings, only=slug, databases={slug: database})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url=f"http://{slug}.test"
    ) as client:
        yield client
    await empty_tables(database, load_app(slug).metadata)


@pytest.fixture(scope="session")
async def shop_database(dialect: str, data_dir: Path) -> AsyncIterator[Database]:
    async for database in _app_database("shop", dialect, data_dir):
        yield database


@pytest.fixture
async def shop(shop_database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _app_client("shop", shop_database, settings):
        yield client


@pytest.fixture(scope="session")
async def fitness_database(dialect: str, data_dir: Path) -> AsyncIterator[Database]:
    async for database in _app_database("fitness", dialect, data_dir):
        yield database


@pytest.fixture
async def fitness(fitness_database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _app_client("fitness", fitness_database, settings):
        yield client


@pytest.fixture(scope="session")
async def queue_database(dialect: str, data_dir: Path) -> AsyncIterator[Database]:
    async for database in _app_database("queue", dialect, data_dir):
        yield database


@pytest.fixture
async def queue(queue_database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _app_client("queue", queue_database, settings):
        yield client


@pytest.fixture(scope="session")
async def coach_database(dialect: str, data_dir: Path) -> AsyncIterator[Database]:
    async for database in _app_database("coach", dialect, data_dir):
        yield database


@pytest.fixture
async def coach(coach_database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _app_client("coach", coach_database, settings):
        yield client


@pytest.fixture(scope="session")
async def badge_database(dialect: str, data_dir: Path) -> AsyncIterator[Database]:
    async for database in _app_database("badge", dialect, data_dir):
        yield database


@pytest.fixture
async def badge(badge_database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _app_client("badge", badge_database, settings):
        yield client
