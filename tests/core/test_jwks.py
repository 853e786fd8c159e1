"""The JWKS verifier against a real HTTP server in this process, serving keys generated here.

`FakeProvider`, `SigningKey` and `id_claims` are also used by the fitness app's SSO tests.
"""

import asyncio
import functools
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from keel.core.errors import ServiceUnavailable, Unauthorized
from keel.core.security import jwks
from keel.core.security.jwks import JWKSVerifier

ISSUER = "https://id.example.test"
CLIENT_ID = "com.example.keel"
FACEBOOK_APP_ID = "4242424242"
FACEBOOK_APP_SECRET = "facebook-app-secret"


@functools.cache
def _private_key(n: int) -> rsa.RSAPrivateKey:
    # Generating RSA keys is slow; a few are made once and reused under fresh kids.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls, n: int = 0) -> "SigningKey":
        return cls(f"kid-{uuid.uuid4().hex[:12]}", _private_key(n))

    def jwk(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid, **headers})


def id_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": f"uid-{uuid.uuid4().hex[:12]}",
        "iat": now,
        "exp": now + 600,
        "email": f"{uuid.uuid4().hex[:10]}@example.com",
        "email_verified": True,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        provider = self.server.provider
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        namespace, _, route = url.path.strip("/").partition("/")
        provider.hits[namespace] += 1
        if route == "jwks":
            keys = provider.jwks.get(namespace)
            if isinstance(keys, int):
                return self._answer(keys, {"error": "unavailable"})
            return self._answer(200 if keys is not None else 404, {"keys": keys or []})
        if route == "graph/debug_token":
            return self._answer(*provider.debug_token(query))
        if route == "graph/me":
            return self._answer(*provider.me(query))
        return self._answer(404, {"error": "not found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    provider: "FakeProvider"


class FakeProvider:
    """An identity provider on 127.0.0.1: JWKS documents and the two Graph API calls Facebook
    sign-in makes. Each test takes its own namespace (a path prefix), so the verifier's
    process-wide cache, keyed by URL, starts empty for it."""

    def __init__(self) -> None:
        self.jwks: dict[str, list[dict[str, Any]] | int] = {}
        self.hits: Counter[str] = Counter()
        # Facebook user tokens this provider knows: token -> {"user_id", "app_id", "email", "name"}.
        self.facebook_tokens: dict[str, dict[str, Any]] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.provider = self
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def namespace(self, *keys: SigningKey) -> str:
        name = uuid.uuid4().hex
        self.jwks[name] = [key.jwk() for key in keys]
        return name

    def jwks_url(self, namespace: str) -> str:
        return f"{self.base_url}/{namespace}/jwks"

    def graph_url(self, namespace: str) -> str:
        return f"{self.base_url}/{namespace}/graph"

    def facebook_user(
        self, *, app_id: str = FACEBOOK_APP_ID, email: str | None = "", name: str = "Fay Book"
    ) -> str:
        """A new Facebook user's access token; `email=None` for a user who shares none."""
        token = f"EAA{uuid.uuid4().hex}"
        self.facebook_tokens[token] = {
            "user_id": str(uuid.uuid4().int)[:15],
            "app_id": app_id,
            "email": f"{uuid.uuid4().hex[:10]}@example.com" if email == "" else email,
            "name": name,
        }
        return token

    def debug_token(self, query: dict[str, str]) -> tuple[int, Any]:
        if query.get("access_token") != f"{FACEBOOK_APP_ID}|{FACEBOOK_APP_SECRET}":
            return 400, {
                "error": {"message": "Invalid app access token", "type": "OAuthException", "code": 190}
            }
        user = self.facebook_tokens.get(query.get("input_token", ""))
        if user is None:
            return 200, {
                "data": {"is_valid": False, "error": {"code": 190, "message": "Malformed access token"}}
            }
        data = {"app_id": user["app_id"], "type": "USER", "is_valid": True, "user_id": user["user_id"]}
        return 200, {"data": {**data, "scopes": ["email", "public_profile"]}}

    def me(self, query: dict[str, str]) -> tuple[int, Any]:
        token = query.get("access_token", "")
        user = self.facebook_tokens.get(token)
        expected = hmac.new(FACEBOOK_APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
        if user is None or query.get("appsecret_proof") != expected:
            return 400, {
                "error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}
            }
        profile = {"id": user["user_id"], "name": user["name"]}
        if user["email"] is not None and "email" in query.get("fields", ""):
            profile["email"] = user["email"]
        return 200, profile


@pytest.fixture(scope="session")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.close()


def _verifier(provider: FakeProvider, namespace: str, **options: Any) -> JWKSVerifier:
    return JWKSVerifier(
        provider.jwks_url(namespace), issuers=[ISSUER], audiences=[CLIENT_ID, "com.example.other"], **options
    )


async def _refused(verifier: JWKSVerifier, token: str) -> str:
    with pytest.raises(Unauthorized) as refused:
        await verifier.verify(token)
    assert refused.value.status_code == 401
    return refused.value.detail


async def test_a_good_token_verifies_and_the_keys_are_fetched_once(provider: FakeProvider) -> None:
    key = SigningKey.new()
    namespace = provider.namespace(key)
    # Keys no ID token is signed with are skipped, not fatal: an encryption key, an EC key.
    ec_jwk = json.loads(
        jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
    )
    provider.jwks[namespace] += [{**SigningKey.new(1).jwk(), "use": "enc"}, {**ec_jwk, "kid": "ec"}]
    verifier = _verifier(provider, namespace)
    claims = id_claims()
    assert (await verifier.verify(key.sign(claims)))["sub"] == claims["sub"]
    # Any of the configured client ids is a good audience.
    other = await verifier.verify(key.sign(id_claims(aud="com.example.other")))
    assert other["aud"] == "com.example.other"
    assert provider.hits[namespace] == 1
    assert (
        await _refused(verifier, SigningKey(key.kid, _private_key(1)).sign(id_claims())) == "Invalid ID token"
    )


async def test_forged_expired_and_misaddressed_tokens_are_refused(provider: FakeProvider) -> None:
    key = SigningKey.new()
    verifier = _verifier(provider, provider.namespace(key))
    now = int(time.time())
    forged = SigningKey(key.kid, _private_key(1))  # another key claiming the same kid
    assert await _refused(verifier, forged.sign(id_claims())) == "Invalid ID token"
    expired = id_claims(iat=now - 7200, exp=now - 3600)
    assert await _refused(verifier, key.sign(expired)) == "ID token has expired"
    assert await _refused(verifier, key.sign(id_claims(aud="com.attacker.app"))) == (
        "ID token was issued for another application"
    )
    assert await _refused(verifier, key.sign(id_claims(iss="https://evil.example"))) == (
        "ID token has an unexpected issuer"
    )
    for missing in ("sub", "exp", "iat", "iss", "aud"):
        claims = {k: v for k, v in id_claims().items() if k != missing}
        assert await _refused(verifier, key.sign(claims)) == "Invalid ID token", missing
    assert await _refused(verifier, key.sign(id_claims(sub=""))) == "Invalid ID token"
    # A token altered after signing.
    header, _payload, signature = key.sign(id_claims()).split(".")
    tampered = jwt.utils.base64url_encode(json.dumps(id_claims()).encode()).decode()
    assert await _refused(verifier, f"{header}.{tampered}.{signature}") == "Invalid ID token"
    assert await _refused(verifier, "not a token") == "Invalid ID token"


async def test_other_algorithms_are_refused_before_any_key_is_fetched(provider: FakeProvider) -> None:
    key = SigningKey.new()
    namespace = provider.namespace(key)
    verifier = _verifier(provider, namespace)
    unsigned = jwt.encode(id_claims(), None, algorithm="none", headers={"kid": key.kid})
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Key confusion: HMAC keyed with the public key, which anyone can download. Made by hand,
    # since PyJWT itself refuses to use a PEM key as an HMAC secret.
    signing_input = b".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode())
        for part in ({"alg": "HS256", "typ": "JWT", "kid": key.kid}, id_claims())
    )
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    hs256 = f"{signing_input.decode()}.{jwt.utils.base64url_encode(mac).decode()}"
    no_kid = jwt.encode(id_claims(), key.private, algorithm="RS256")
    for token in (unsigned, hs256, no_kid):
        assert await _refused(verifier, token) == "Invalid ID token"
    assert provider.hits[namespace] == 0


async def test_an_unknown_kid_refetches_once_then_waits(provider: FakeProvider) -> None:
    first, rotated = SigningKey.new(), SigningKey.new(1)
    namespace = provider.namespace(first)
    verifier = _verifier(provider, namespace)
    await verifier.verify(first.sign(id_claims()))
    assert provider.hits[namespace] == 1
    provider.jwks[namespace] = [first.jwk(), rotated.jwk()]
    # Requests arriving together with the new kid share one fetch.
    tokens = [rotated.sign(id_claims()) for _ in range(5)]
    await asyncio.gather(*(verifier.verify(token) for token in tokens))
    assert provider.hits[namespace] == 2
    # A flood of made-up kids right after does not reach the provider.
    for _ in range(20):
        assert await _refused(verifier, SigningKey.new(2).sign(id_claims())) == "Invalid ID token"
    assert provider.hits[namespace] == 2
    await verifier.verify(first.sign(id_claims()))  # known keys keep working meanwhile
    assert provider.hits[namespace] == 2


async def test_after_the_quiet_interval_an_unknown_kid_is_fetched_again(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The verifier's clock is the test's: a loaded machine taking its time between two
    # requests must not end the quiet interval early.
    clock = SimpleNamespace(monotonic=lambda: 1000.0)
    monkeypatch.setattr(jwks, "time", clock)
    first, late = SigningKey.new(), SigningKey.new(1)
    namespace = provider.namespace(first)
    verifier = _verifier(provider, namespace, refetch_interval=30)
    await verifier.verify(first.sign(id_claims()))
    assert await _refused(verifier, late.sign(id_claims())) == "Invalid ID token"
    assert provider.hits[namespace] == 2
    provider.jwks[namespace] = [late.jwk()]
    clock.monotonic = lambda: 1029.0
    assert await _refused(verifier, late.sign(id_claims())) == "Invalid ID token"  # still quiet
    clock.monotonic = lambda: 1031.0
    await verifier.verify(late.sign(id_claims()))
    assert provider.hits[namespace] == 3


async def test_a_withdrawn_key_stops_verifying_once_the_keys_are_old(provider: FakeProvider) -> None:
    old, new = SigningKey.new(), SigningKey.new(1)
    namespace = provider.namespace(old, new)
    verifier = _verifier(provider, namespace, max_age=0, refetch_interval=0)
    await verifier.verify(old.sign(id_claims()))
    provider.jwks[namespace] = [new.jwk()]
    assert await _refused(verifier, old.sign(id_claims())) == "Invalid ID token"
    await verifier.verify(new.sign(id_claims()))


async def test_an_unreachable_provider_is_a_503(provider: FakeProvider) -> None:
    key = SigningKey.new()
    namespace = provider.namespace(key)
    provider.jwks[namespace] = 500
    verifier = _verifier(provider, namespace)
    with pytest.raises(ServiceUnavailable) as unavailable:
        await verifier.verify(key.sign(id_claims()))
    assert unavailable.value.status_code == 503
    assert provider.hits[namespace] == 1
    # Failures are not retried on every request either.
    provider.jwks[namespace] = [key.jwk()]
    with pytest.raises(ServiceUnavailable):
        await verifier.verify(key.sign(id_claims()))
    assert provider.hits[namespace] == 1
    # A document without one key that can verify an ID token is a provider fault, not a bad token.
    only_encryption = provider.namespace()
    provider.jwks[only_encryption] = [{**key.jwk(), "use": "enc"}]
    with pytest.raises(ServiceUnavailable):
        await _verifier(provider, only_encryption).verify(key.sign(id_claims()))
    closed = JWKSVerifier("http://127.0.0.1:9/jwks", issuers=[ISSUER], audiences=[CLIENT_ID], timeout=1)
    with pytest.raises(ServiceUnavailable):
        await closed.verify(key.sign(id_claims()))


def test_a_verifier_needs_an_audience_and_an_issuer() -> None:
    with pytest.raises(ValueError):
        JWKSVerifier("http://127.0.0.1/jwks", issuers=[ISSUER], audiences=[])
    with pytest.raises(ValueError):
        JWKSVerifier("http://127.0.0.1/jwks", issuers=[], audiences=[CLIENT_ID])
