"""The contract test: schemathesis explores every operation of an app's OpenAPI schema with
generated input, signed in as an admin, against a real server in this process (all apps mounted
under their slugs); no answer may be a 5xx, and every answer must match the schema the app
publishes. Each app's test is a module of its own (test_<slug>.py), so parallel workers
(`pytest -n 2 --dist loadfile`) can take them side by side."""

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

from keel.apps import APP_SLUGS, load_app
from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.databases import drop_database, migrated_database

TOKENS: dict[tuple[str, str, str], str] = {}

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


def _serve(server: uvicorn.Server, urls: dict[str, str], settings: Settings) -> None:
    async def main() -> None:
        # The engines are made on the server's own event loop, the one their connections use.
        databases = {slug: Database(url, pool_size=2, max_overflow=8) for slug, url in urls.items()}
        # Rate limits off: schemathesis sends hundreds of requests (and a login per operation)
        # from one address, which is what the limits exist to refuse.
        server.config.app = build_server(
            settings.model_copy(update={"rate_limit_scale": 0}), databases=databases
        )
        server.config.loaded = False
        await server.serve()

    asyncio.run(main())


@pytest.fixture(scope="module")
async def live(dialect: str, data_dir: Path, settings: Settings) -> AsyncIterator[LiveServer]:
    urls = {}
    for slug in APP_SLUGS:
        keel_app = load_app(slug)
        urls[slug] = await migrated_database(dialect, keel_app, data_dir, suffix="_contract")
        seeding = Database(urls[slug])
        async with seeding.sessionmaker() as session:
            assert keel_app.seed is not None
            await keel_app.seed(session, settings, demo=True)
            await session.commit()
        await seeding.dispose()

    config = uvicorn.Config(
        app=None, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=_serve, args=(server, urls, settings), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the contract-test server did not start"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield LiveServer(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(timeout=10)
    for url in urls.values():
        await drop_database(dialect, url)


def contract_test(slug: str) -> Callable[..., None]:
    # The document only: requests go to the live server, under the app's slug.
    schema = schemathesis.openapi.from_dict(
        load_app(slug).build(Settings(), Database("sqlite+aiosqlite://")).openapi()
    )

    @schema.parametrize()
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def test(case: Any, live: LiveServer) -> None:
        base = f"{live.base_url}/{slug}"
        # One admin token per operation (the body runs once per example): an operation's calls
        # may log it out, and that must not spill into the next operation's.
        key = (live.base_url, slug, case.operation.label)
        if key not in TOKENS:
            credentials = {"email": live.settings.admin_email, "password": live.settings.admin_password}
            answer = httpx.post(f"{base}{LOGIN_PATHS[slug]}", json=credentials).json()
            TOKENS[key] = answer[TOKEN_FIELDS.get(slug, "access_token")]
        case.call_and_validate(
            base_url=base,
            headers={"Authorization": f"Bearer {TOKENS[key]}"},
            checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        )

    return test
