"""The contract test: schemathesis explores every operation of an app's OpenAPI schema with
generated input, signed in as an admin, against a real server in this process serving that one
app at the root, on its demo data; no answer may be a 5xx, and every answer must match the schema
the app publishes. Each app's test is a module of its own (test_<slug>.py, naming its `SLUG`), so
parallel workers (`pytest -n 2 --dist loadfile`) can take them side by side.

SQLite gets the full exploration. PostgreSQL and MariaDB get a shorter one: what differs between
engines (types, ranges, collation, how a constraint is reported) shows in the first examples of
each operation, and the long tail of odd input is the same Python code on every engine."""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

TOKENS: dict[tuple[str, str], str] = {}

# Where each app signs its admin in (the specs spell it differently).
LOGIN_PATHS = {
    "shop": "/api/auth/login",
    "fitness": "/api/v1/auth/login",
    "coach": "/api/v1/auth/login",
    "queue": "/auth/login",
    "badge": "/api/v1/auth/login",
}
# Where the access token is in each app's login answer (the specs name it differently).
TOKEN_FIELDS = {"queue": "token"}


@dataclass
class LiveServer:
    base_url: str
    settings: Settings


# Examples per operation, by dialect.
EXAMPLES = {"sqlite": 25, "postgresql": 6, "mariadb": 6}


def _serve(server: uvicorn.Server, slug: str, url: str, settings: Settings) -> None:
    async def main() -> None:
        # The engine is made on the server's own event loop, the one its connections use.
        database = Database(url, pool_size=2, max_overflow=8)
        # Rate limits off: schemathesis sends hundreds of requests (and a login per operation)
        # from one address, which is what the limits exist to refuse.
        server.config.app = build_server(
            settings.model_copy(update={"rate_limit_scale": 0}), only=slug, databases={slug: database}
        )
        server.config.loaded = False
        await server.serve()

    asyncio.run(main())


@pytest.fixture(scope="module")
async def live(
    request: pytest.FixtureRequest, dialect: str, data_dir: Path, settings: Settings
) -> AsyncIterator[LiveServer]:
    slug = request.module.SLUG
    keel_app = load_app(slug)
    url = await migrated_database(dialect, keel_app, data_dir, suffix="_contract")
    seeding = Database(url)
    async with seeding.sessionmaker() as session:
        assert keel_app.seed is not None
        await keel_app.seed(session, settings, demo=True)
        await session.commit()
    await seeding.dispose()

    config = uvicorn.Config(
        app=None, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=_serve, args=(server, slug, url, settings), daemon=True)
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


def contract_tests(slug: str) -> tuple[Callable[..., None], ...]:
    """One test per dialect, each exploring every operation with that dialect's examples."""
    # The document only: requests go to the live server.
    schema = schemathesis.openapi.from_dict(
        load_app(slug).build(Settings(), Database("sqlite+aiosqlite://")).openapi()
    )

    def on(dialect: str) -> Callable[..., None]:
        @pytest.mark.parametrize("dialect", [dialect], indirect=True)
        @schema.parametrize()
        @settings(max_examples=EXAMPLES[dialect], deadline=None, suppress_health_check=list(HealthCheck))
        def test(case: Any, live: LiveServer) -> None:
            # One admin token per operation (the body runs once per example): an operation's
            # calls may log it out, and that must not spill into the next operation's.
            key = (live.base_url, case.operation.label)
            if key not in TOKENS:
                credentials = {"email": live.settings.admin_email, "password": live.settings.admin_password}
                answer = httpx.post(f"{live.base_url}{LOGIN_PATHS[slug]}", json=credentials).json()
                TOKENS[key] = answer[TOKEN_FIELDS.get(slug, "access_token")]
            case.call_and_validate(
                base_url=live.base_url,
                headers={"Authorization": f"Bearer {TOKENS[key]}"},
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
            )

        return test

    return tuple(on(dialect) for dialect in EXAMPLES)
