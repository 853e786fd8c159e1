"""Rate limits: token buckets, in Redis when `KEEL_REDIS_URL` is set (shared by every process)
and in the process's memory otherwise.

A bucket holds up to `capacity` tokens and refills at `capacity / per_seconds` a second; each
request takes one. A request that finds the bucket empty is answered 429 with `Retry-After`
(seconds until a token is back) and the `RateLimit-Limit / -Remaining / -Reset` headers of the
IETF draft, which allowed answers carry too.

A route declares its limit as a dependency (`rate_limit("records.write", Rate(60, 60))`);
code that keys a bucket on something in the body (login: the account) calls `enforce`.
"""

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Response
from redis.asyncio import Redis
from redis.exceptions import RedisError

from keel.core.errors import TooManyRequests

log = logging.getLogger("keel.ratelimit")


@dataclass(frozen=True, slots=True)
class Rate:
    """`capacity` requests at once, refilled evenly over `per_seconds`."""

    capacity: int
    per_seconds: float

    def scaled(self, scale: float) -> "Rate":
        return Rate(max(1, round(self.capacity * scale)), self.per_seconds)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds until one token is back (0 when allowed)
    reset: float  # seconds until the bucket is full again

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


def _decide(tokens: float, rate: Rate, allowed: bool) -> Decision:
    per_token = rate.per_seconds / rate.capacity
    return Decision(
        allowed=allowed,
        limit=rate.capacity,
        remaining=max(0, math.floor(tokens)),
        retry_after=0.0 if allowed else (1 - tokens) * per_token,
        reset=(rate.capacity - tokens) * per_token,
    )


class MemoryBuckets:
    """Buckets in this process: right for one process, too generous for several."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, rate: Rate) -> Decision:
        # No await between read and write: atomic on the event loop.
        now = time.monotonic()
        tokens, updated = self._buckets.get(key, (float(rate.capacity), now))
        tokens = min(float(rate.capacity), tokens + (now - updated) * rate.capacity / rate.per_seconds)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
            self._buckets.clear()  # forgetting buckets only ever lets requests through
        self._buckets[key] = (tokens, now)
        return _decide(tokens, rate, allowed)


# Atomic in Redis: refill by the server's clock (the same for every process), take a token,
# store, and expire the key once it would be full again.
_TAKE = """
local capacity = tonumber(ARGV[1])
local per_second = capacity / tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(stored[1]) or capacity
local updated = tonumber(stored[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - updated) * per_second)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / per_second * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    def __init__(self, redis: Redis, prefix: str):
        self._script = redis.register_script(_TAKE)
        self._prefix = prefix

    async def take(self, key: str, rate: Rate) -> Decision:
        allowed, tokens = await self._script(
            keys=[f"{self._prefix}{key}"], args=[rate.capacity, rate.per_seconds]
        )
        return _decide(float(tokens), rate, bool(allowed))


Buckets = MemoryBuckets | RedisBuckets


def _buckets(request: Request) -> Buckets:
    state = request.app.state
    buckets = getattr(state, "rate_buckets", None)
    if buckets is None:
        redis = getattr(state, "redis", None)
        prefix = f"keel:ratelimit:{state.slug}:"
        buckets = state.rate_buckets = RedisBuckets(redis, prefix) if redis is not None else MemoryBuckets()
    return buckets


def client_address(request: Request) -> str:
    # The peer's address; behind a proxy named in KEEL_TRUSTED_PROXIES, uvicorn has already put
    # the client's own address from X-Forwarded-For here (and from no one else's header).
    return request.client.host if request.client else "unknown"


async def enforce(request: Request, bucket: str, rate: Rate, response: Response | None = None) -> None:
    """Take a token from `bucket` or answer 429. `response` gets the RateLimit headers."""
    scale: float = request.app.state.settings.rate_limit_scale
    if scale == 0:
        return
    rate = rate.scaled(scale)
    try:
        decision = await _buckets(request).take(bucket, rate)
    except RedisError:
        # A limiter that is down must not take the API with it: let the request through.
        log.warning("rate limiter unavailable; request allowed", exc_info=True)
        return
    if not decision.allowed:
        raise TooManyRequests("Too many requests; retry later", headers=decision.headers())
    if response is not None:
        response.headers.update(decision.headers())


# Every app's login. A person mistyping never meets these; a guesser gets 10 tries per account
# every 5 minutes (about 3,000 a day) and 30 a minute from one address, whichever account.
LOGIN_PER_ACCOUNT = Rate(10, 300)
LOGIN_PER_ADDRESS = Rate(30, 60)


async def throttle_login(request: Request, account: str, response: Response) -> None:
    """Spend a login attempt of the client's address and of the account it names (as typed,
    case-folded: each spelling of one address would otherwise get its own bucket), or 429.
    Before the password is checked, so a refused guess costs no hash."""
    await enforce(request, f"login:ip:{client_address(request)}", LOGIN_PER_ADDRESS)
    await enforce(request, f"login:account:{account.strip().casefold()}", LOGIN_PER_ACCOUNT, response)


KeyFunction = Callable[[Request], Awaitable[str]]


async def by_address(request: Request) -> str:
    return f"ip:{client_address(request)}"


async def by_user(request: Request) -> str:
    """The signed-in user when the request carries a valid token, else the client's address."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            return f"user:{request.app.state.tokens.decode_access(token).sub}"
        except Exception:  # an invalid token is refused by the route's own authentication
            pass
    return await by_address(request)


def rate_limit(name: str, rate: Rate, key: KeyFunction = by_user) -> Any:
    """A dependency that spends one token of `name`'s bucket for the request's key."""

    async def dependency(request: Request, response: Response) -> None:
        await enforce(request, f"{name}:{await key(request)}", rate, response)

    return Depends(dependency)
