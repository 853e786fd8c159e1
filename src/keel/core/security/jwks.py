"""ID tokens signed by someone else (Sign in with Apple, Google, any OpenID provider): RS256
signatures checked against the keys the provider publishes as a JWKS, with its issuer, the
app's client ids as audience, and expiry.

Keys are cached per JWKS URL for the life of the process. A token signed with a key we do not
know yet (the provider rotated) makes us fetch again, but at most once per `refetch_interval`
per URL, so a flood of made-up `kid`s cannot turn us into a client that hammers the provider.
"""

import asyncio
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from keel.core.errors import ServiceUnavailable, Unauthorized

log = logging.getLogger("keel.jwks")

ALGORITHM = "RS256"
# Seconds between fetches of one URL that unknown kids may cause.
REFETCH_INTERVAL = 30.0
# Keys older than this are fetched again even when every kid is known, so a key the provider
# withdrew stops being honoured.
MAX_AGE = 6 * 3600.0
FETCH_TIMEOUT = 5.0

INVALID = "Invalid ID token"


class _JWKSUnavailable(Exception):
    pass


class _KeySet:
    """One JWKS URL's keys in this process."""

    def __init__(self, url: str):
        self.url = url
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at: float | None = None  # the last fetch that worked
        # Until then no fetch: set by every refetch and every failure, not by the first fetch,
        # so keys that rotate just after we first read them are still picked up at once.
        self.quiet_until = 0.0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def _fetch_lock(self) -> asyncio.Lock:
        # A lock belongs to one event loop; a process normally has one, tests have many.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def _stale(self, now: float, max_age: float) -> bool:
        return self.fetched_at is None or now - self.fetched_at >= max_age

    async def key(
        self, kid: str, *, refetch_interval: float, max_age: float, fetch_timeout: float
    ) -> jwt.PyJWK | None:
        if kid in self.keys and not self._stale(time.monotonic(), max_age):
            return self.keys[kid]
        # One fetch at a time per URL; whoever waited sees its result instead of fetching again.
        async with self._fetch_lock():
            now = time.monotonic()
            stale = self._stale(now, max_age)
            if kid in self.keys and not stale:
                return self.keys[kid]
            if now >= self.quiet_until:
                if self.fetched_at is not None:
                    self.quiet_until = now + refetch_interval
                try:
                    self.keys = await _fetch(self.url, fetch_timeout)
                    self.fetched_at = time.monotonic()
                except _JWKSUnavailable as error:
                    self.quiet_until = now + refetch_interval
                    log.warning("JWKS fetch failed", extra={"url": self.url, "error": str(error)})
                    if kid not in self.keys:
                        raise _provider_unavailable() from None
                    # A key we already had: keep honouring it while the provider is away.
            elif not self.keys:
                raise _provider_unavailable()
            return self.keys.get(kid)


def _provider_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The sign-in provider could not be reached; please retry", headers={"Retry-After": "30"}
    )


async def _fetch(url: str, fetch_timeout: float) -> dict[str, jwt.PyJWK]:
    try:
        async with httpx.AsyncClient(timeout=fetch_timeout) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise _JWKSUnavailable(f"{type(error).__name__}: {error}") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise _JWKSUnavailable("the document has no 'keys' list")
    keys = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if (
            entry.get("kty") != "RSA"
            or entry.get("use", "sig") != "sig"
            or entry.get("alg", ALGORITHM) != ALGORITHM
        ):
            continue  # encryption keys and other algorithms never verify an ID token
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue
    if not keys:
        raise _JWKSUnavailable("the document has no usable RS256 key")
    return keys


_key_sets: dict[str, _KeySet] = {}


def _key_set(url: str) -> _KeySet:
    key_set = _key_sets.get(url)
    if key_set is None:
        key_set = _key_sets[url] = _KeySet(url)
    return key_set


@dataclass(frozen=True, slots=True)
class JWKSVerifier:
    """Checks ID tokens of one provider. Cheap to make: the keys are cached per URL, not here."""

    jwks_url: str
    issuers: Collection[str]
    audiences: Collection[str]  # the app's client ids; a token for any of them is accepted
    leeway: float = 60.0  # seconds of clock skew allowed on exp and iat
    refetch_interval: float = REFETCH_INTERVAL
    max_age: float = MAX_AGE
    timeout: float = FETCH_TIMEOUT

    def __post_init__(self) -> None:
        if not self.issuers or not self.audiences:
            raise ValueError("a JWKSVerifier needs at least one issuer and one audience")

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or `Unauthorized` for anything wrong with it; `ServiceUnavailable`
        when the provider's keys cannot be had."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized(INVALID) from None
        kid = header.get("kid")
        # Checked here too (PyJWT checks it again): "none", HS256 with the public key as the
        # secret and every other algorithm are refused before any key is looked up.
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthorized(INVALID)
        key = await _key_set(self.jwks_url).key(
            kid, refetch_interval=self.refetch_interval, max_age=self.max_age, fetch_timeout=self.timeout
        )
        if key is None:
            raise Unauthorized(INVALID)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=list(self.audiences),
                issuer=list(self.issuers),
                leeway=self.leeway,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("ID token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("ID token was issued for another application") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("ID token has an unexpected issuer") from None
        except jwt.InvalidTokenError:
            raise Unauthorized(INVALID) from None
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise Unauthorized(INVALID)
        return claims
