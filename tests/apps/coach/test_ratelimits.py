"""Coach's limits: login (throttled per account and per address by the core, whose own test is
tests/core/test_auth.py) shared through Redis by every process, scaled off, and the API's
read limit announced in RateLimit headers."""

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.coach import builders
from tests.databases import REDIS_URL, require_service


def _client(database: Database, settings: Settings, address: str = "127.0.0.1") -> httpx.AsyncClient:
    server = build_server(settings, only="coach", databases={"coach": database})
    transport = httpx.ASGITransport(app=server, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://coach.test")


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Settings]:
    if request.param == "memory":
        yield settings
        return
    require_service("redis", REDIS_URL)
    redis = Redis.from_url(REDIS_URL)

    async def clear() -> None:
        async for key in redis.scan_iter("keel:ratelimit:coach:*"):
            await redis.delete(key)

    await clear()
    yield settings.model_copy(update={"redis_url": REDIS_URL})
    await clear()
    await redis.aclose()


async def _login(client: httpx.AsyncClient, email: str, password: str = "wrong-password") -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_redis_buckets_are_shared_by_every_process(
    coach, coach_database: Database, store: Settings
) -> None:
    async with _client(coach_database, store) as first, _client(coach_database, store) as second:
        who = await builders.member(first)
        for _ in range(10):
            await _login(first, who.email)
        shared = store.redis_url is not None
        assert (await _login(second, who.email)).status_code == (429 if shared else 401)


async def test_limits_can_be_scaled_off(coach, coach_database: Database, settings: Settings) -> None:
    async with _client(coach_database, settings.model_copy(update={"rate_limit_scale": 0})) as client:
        who = await builders.member(client)
        assert {(await _login(client, who.email)).status_code for _ in range(12)} == {401}


async def test_api_reads_carry_ratelimit_headers(coach: httpx.AsyncClient) -> None:
    who = await builders.member(coach)
    response = await coach.get("/api/v1/settings/targets", headers=who.headers)
    assert response.headers["RateLimit-Limit"] == "300"
    assert response.headers["RateLimit-Remaining"] == "299"
