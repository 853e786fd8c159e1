"""Login is throttled per account and per address, with 429, Retry-After and RateLimit
headers; in memory by default, and in Redis shared by every process when configured."""

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import PASSWORD
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


async def test_login_is_throttled_per_account(coach, coach_database: Database, store: Settings) -> None:
    async with _client(coach_database, store) as client:
        who = await builders.member(client)
        answers = [await _login(client, who.email) for _ in range(10)]
        assert {a.status_code for a in answers} == {401}
        refused = await _login(client, who.email, PASSWORD)  # even the right password
        assert refused.status_code == 429
        assert refused.json() == {"detail": "Too many requests; retry later", "code": "rate_limited"}
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Limit"] == "10"
        # Another account from the same address is not affected.
        other = await builders.member(client)
        allowed = await _login(client, other.email, PASSWORD)
        assert allowed.status_code == 200
        assert (allowed.headers["RateLimit-Limit"], allowed.headers["RateLimit-Remaining"]) == ("10", "9")


async def test_login_is_throttled_per_address(coach, coach_database: Database, store: Settings) -> None:
    async with (
        _client(coach_database, store, "10.0.0.7") as client,
        _client(coach_database, store, "10.0.0.8") as elsewhere,
    ):
        answers = [await _login(client, f"guess{n}@example.com") for n in range(30)]
        assert {a.status_code for a in answers} == {401}
        assert (await _login(client, "guess-more@example.com")).status_code == 429
        assert (await _login(elsewhere, "guess-more@example.com")).status_code == 401


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
