"""Signed device requests (spec 004, "签名校验机制"): HMAC-SHA256 with the device secret over
method + path + body + timestamp, a time window, and a nonce cache so a captured request cannot
be replayed inside that window."""

import hashlib
import hmac
import time

from redis.asyncio import Redis

from keel.core.errors import Unauthorized

PREFIX = "sha256:"


def sign(secret: str, method: str, target: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + target.encode() + body + timestamp.encode()
    return PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class NonceCache:
    """Signatures already honoured, remembered for twice the window: in Redis when the app has
    it (so every process refuses a replay), else in this process's memory."""

    def __init__(self, redis: Redis | None):
        self._redis = redis
        self._seen: dict[str, float] = {}

    async def claim(self, nonce: str, ttl: int) -> bool:
        if self._redis is not None:
            return bool(await self._redis.set(f"keel:badge:nonce:{nonce}", b"1", nx=True, ex=ttl))
        now = time.monotonic()
        if len(self._seen) > 100_000:
            self._seen = {key: until for key, until in self._seen.items() if until > now}
        if self._seen.get(nonce, 0) > now:
            return False
        self._seen[nonce] = now + ttl
        return True


async def verify(
    *,
    secret: str,
    method: str,
    target: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    window: int,
    nonces: NonceCache,
) -> None:
    if not timestamp or not signature:
        raise Unauthorized("Device requests must carry X-Timestamp and X-Signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Unauthorized("X-Timestamp must be Unix seconds") from None
    if abs(time.time() - sent_at) > window:
        raise Unauthorized(f"X-Timestamp is outside the {window}-second window")
    expected = sign(secret, method, target, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise Unauthorized("Invalid request signature")
    if not await nonces.claim(expected, 2 * window):
        raise Unauthorized("This signed request was already used")
