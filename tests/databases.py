"""The database dialects the suite runs on, and how to get a fresh, migrated database on each.

SQLite always runs. PostgreSQL and MariaDB run when reachable on their usual loopback ports
(override with KEEL_TEST_POSTGRES_URL / KEEL_TEST_MARIADB_URL; Redis and MQTT likewise with
KEEL_TEST_REDIS_URL / KEEL_TEST_MQTT_URL); with KEEL_REQUIRE_SERVICES=1
an unreachable server fails the run instead of skipping.
"""

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import MetaData, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from keel.core.app import KeelApp
from keel.core.db import Database
from keel.core.migrations import upgrade_async

SERVER_URLS = {
    "postgresql": os.environ.get("KEEL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432"),
    "mariadb": os.environ.get("KEEL_TEST_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306"),
}
DIALECTS = ("sqlite", "postgresql", "mariadb")
# Test runs side by side (a developer's and CI's, or parallel workers) each get their own databases.
RUN_ID = os.getpid()


# Other services the suite talks to, with the same override-or-default rule.
REDIS_URL = os.environ.get("KEEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MQTT_URL = os.environ.get("KEEL_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


def require_reachable(dialect: str) -> None:
    if dialect != "sqlite":
        require_service(dialect, SERVER_URLS[dialect])


def require_service(name: str, url: str) -> None:
    """Skip the test when the service at `url` does not answer (fail it under KEEL_REQUIRE_SERVICES=1)."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError:
        message = f"{name} is not reachable at {parts.hostname}:{parts.port}"
        if os.environ.get("KEEL_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and KEEL_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)


async def _on_server(dialect: str, *statements: str) -> None:
    server = SERVER_URLS[dialect]
    admin_url = f"{server}/postgres" if dialect == "postgresql" else server
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    await engine.dispose()


def _quoted(dialect: str, name: str) -> str:
    return f'"{name}"' if dialect == "postgresql" else f"`{name}`"


async def fresh_database(dialect: str, name: str, tmp_dir: Path) -> str:
    """Create an empty database for this run (its name suffixed with the run id); its URL."""
    name = f"{name}_{RUN_ID}"
    if dialect == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_dir / f'{name}.db'}"
    quoted = _quoted(dialect, name)
    force = " WITH (FORCE)" if dialect == "postgresql" else ""
    charset = " CHARACTER SET utf8mb4" if dialect == "mariadb" else ""
    await _on_server(
        dialect, f"DROP DATABASE IF EXISTS {quoted}{force}", f"CREATE DATABASE {quoted}{charset}"
    )
    return f"{SERVER_URLS[dialect]}/{name}"


def _remove_sqlite_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


async def drop_database(dialect: str, url: str) -> None:
    if dialect == "sqlite":
        # The file goes too, so the next database of that name starts empty.
        await asyncio.to_thread(_remove_sqlite_files, url.split(":///", 1)[1])
    else:
        force = " WITH (FORCE)" if dialect == "postgresql" else ""
        await _on_server(dialect, f"DROP DATABASE IF EXISTS {_quoted(dialect, url.rsplit('/', 1)[1])}{force}")


async def migrated_database(dialect: str, keel_app: KeelApp, tmp_dir: Path, suffix: str = "") -> str:
    url = await fresh_database(dialect, f"keel_test_{keel_app.slug}{suffix}", tmp_dir)
    await upgrade_async(keel_app, url)
    return url


@asynccontextmanager
async def database_at(
    dialect: str, keel_app: KeelApp, tmp_dir: Path, revision: str
) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A fresh database migrated up to `revision` (to write data as that revision stored it,
    then upgrade past it): its URL and an engine on it, both gone afterwards."""
    url = await fresh_database(dialect, f"keel_test_{keel_app.slug}_data_migrations", tmp_dir)
    engine = create_async_engine(url)
    try:
        await upgrade_async(keel_app, url, revision)
        yield url, engine
    finally:
        await engine.dispose()
        await drop_database(dialect, url)


async def empty_tables(database: Database, metadata: MetaData) -> None:
    """Remove every row, children before parents, so the next test starts clean."""
    async with database.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())


async def promote_to_admin(database: Database, user_model: type, user_id: int) -> None:
    """No API makes an admin (only `keel seed` does), so test builders promote one directly."""
    async with database.engine.begin() as connection:
        await connection.execute(update(user_model).where(user_model.id == user_id).values(is_admin=True))
