"""The token bucket itself, in memory and in Redis: bursts up to capacity, refills evenly,
and tells a refused caller how long to wait."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from keel.core.ratelimit import MemoryBuckets, Rate, RedisBuckets
from tests.databases import REDIS_URL, require_service


@pytest.fixture(params=["memory", "redis"])
async def buckets(request: pytest.FixtureRequest) -> AsyncIterator[MemoryBuckets | RedisBuckets]:
    if request.param == "memory":
        yield MemoryBuckets()
        return
    require_service("redis", REDIS_URL)
    redis = Redis.from_url(REDIS_URL)
    prefix = f"keel:test:{uuid.uuid4().hex}:"
    yield RedisBuckets(redis, prefix)
    async for key in redis.scan_iter(f"{prefix}*"):
        await redis.delete(key)
    await redis.aclose()


async def test_a_burst_up_to_capacity_then_a_refusal_with_the_wait(buckets) -> None:
    rate = Rate(3, 0.6)  # a token every 0.2 s
    decisions = [await buckets.take("k", rate) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    refused = decisions[-1]
    assert 0 < refused.retry_after <= 0.2
    assert refused.headers()["Retry-After"] == "1"
    assert refused.headers()["RateLimit-Limit"] == "3"
    await asyncio.sleep(0.25)
    assert (await buckets.take("k", rate)).allowed
    assert not (await buckets.take("k", rate)).allowed


async def test_keys_have_their_own_buckets(buckets) -> None:
    rate = Rate(1, 60)
    assert (await buckets.take("a", rate)).allowed
    assert not (await buckets.take("a", rate)).allowed
    assert (await buckets.take("b", rate)).allowed
