"""CORS and request bodies at the edge of every app (core/http.py): preflights for allowed and
other origins, mounted and alone; bodies refused while they stream in; gzip bodies inflated
within the same limit. No database is reached before a body is refused or a preflight answered,
so these run once, not per dialect (the apps' own tests cover bodies they store)."""

import gzip
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from keel.core.http import CORS_EXPOSED_HEADERS
from keel.server import build_server
from keel.settings import DEVELOPMENT_CORS_ORIGINS, Settings
from tests.serving import serving

PAGE = "https://admin.example.com"
LOGIN = "/api/auth/login"  # shop's; it reads its body before anything else
LIMIT = 1024 * 1024
TOO_LARGE = "The request body is too large: at most 1 MB (1,048,576 bytes) is accepted"
JSON = {"Content-Type": "application/json"}
# (prefix, app): shop under its slug beside the others, and shop alone at the root.
SHAPES = [("/shop", None), ("", "shop")]


@pytest.fixture(params=SHAPES, ids=["mounted", "alone"])
async def edge(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The shop (its database never reached here), and the origin PAGE allowed."""
    prefix, only = request.param
    server = build_server(
        settings.model_copy(update={"cors_origins": [PAGE], "rate_limit_scale": 0}), only=only
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        yield client, prefix


def preflight(
    origin: str, method: str = "POST", headers: str = "authorization, content-type"
) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


# --- CORS --------------------------------------------------------------------------------------


async def test_a_preflight_from_an_allowed_origin_lists_the_methods_and_headers(
    edge: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = edge
    required = "Authorization, Content-Type, Idempotency-Key, X-Idempotency-Key, X-Timestamp, X-Signature"
    response = await client.options(f"{prefix}{LOGIN}", headers=preflight(PAGE, "POST", required))
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == PAGE
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= set(
        response.headers["access-control-allow-methods"].split(", ")
    )
    allowed = {name.lower() for name in response.headers["access-control-allow-headers"].split(", ")}
    assert {name.lower() for name in required.split(", ")} <= allowed
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers  # bearer tokens, no cookies


async def test_a_preflight_from_another_origin_is_refused_without_an_allow_origin(
    edge: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = edge
    for headers in (
        preflight("https://evil.example.com"),
        preflight(PAGE, "TRACE"),
        preflight(PAGE, "POST", "authorization, x-something-else"),
    ):
        response = await client.options(f"{prefix}{LOGIN}", headers=headers)
        assert response.status_code == 400, headers
        assert response.json()["detail"].startswith("CORS preflight refused")
        assert "access-control-allow-origin" not in response.headers


async def test_answers_are_readable_by_an_allowed_origin_only(edge: tuple[httpx.AsyncClient, str]) -> None:
    client, prefix = edge
    # An app's own answer (a 422 here, before any database) and its rate-limit headers.
    allowed = await client.post(f"{prefix}{LOGIN}", json={}, headers={"Origin": PAGE})
    assert allowed.status_code == 422
    assert allowed.headers["access-control-allow-origin"] == PAGE
    exposed = {name.strip().lower() for name in allowed.headers["access-control-expose-headers"].split(",")}
    assert {
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
        "x-request-id",
    } <= exposed
    assert exposed == {name.lower() for name in CORS_EXPOSED_HEADERS}
    assert "Origin" in allowed.headers["vary"]
    other = await client.post(f"{prefix}{LOGIN}", json={}, headers={"Origin": "https://evil.example.com"})
    assert other.status_code == 422  # answered, but a browser will not let that page read it
    assert "access-control-allow-origin" not in other.headers
    # Without Origin (a phone, a device) the answer still says it depends on Origin, for caches.
    plain = await client.post(f"{prefix}{LOGIN}", json={})
    assert "access-control-allow-origin" not in plain.headers and "Origin" in plain.headers["vary"]


async def test_the_servers_own_routes_are_covered_when_apps_are_mounted(settings: Settings) -> None:
    server = build_server(settings.model_copy(update={"cors_origins": [PAGE]}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        response = await client.get("/", headers={"Origin": PAGE})
    assert response.headers["access-control-allow-origin"] == PAGE


async def test_any_origin_when_configured_as_star(settings: Settings) -> None:
    server = build_server(settings.model_copy(update={"cors_origins": ["*"]}), only="shop")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        response = await client.options(LOGIN, headers=preflight("https://anywhere.example"))
        answer = await client.post(LOGIN, json={}, headers={"Origin": "https://anywhere.example"})
    assert response.status_code == 204 and response.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_development_allows_local_dev_servers_and_production_no_origin(settings: Settings) -> None:
    secret = {"secret_key": "s" * 48}
    assert "http://localhost:5173" in Settings(env="development").cors_origins
    assert "http://127.0.0.1:3000" in Settings(env="development").cors_origins
    assert Settings(env="test").cors_origins == []
    production = Settings(env="production", **secret)
    assert production.cors_origins == []
    server = build_server(production.model_copy(update={"data_dir": settings.data_dir}), only="shop")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        for origin in DEVELOPMENT_CORS_ORIGINS[:2]:
            response = await client.options(LOGIN, headers=preflight(origin))
            assert response.status_code == 400
            assert "access-control-allow-origin" not in response.headers


def test_cors_origins_come_from_a_json_list_and_must_be_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_CORS_ORIGINS", '["https://admin.example.com", "http://localhost:5173"]')
    assert Settings().cors_origins == ["https://admin.example.com", "http://localhost:5173"]
    for wrong in ("https://admin.example.com/", "admin.example.com", "https://a.example.com/path"):
        with pytest.raises(ValueError, match="not an origin"):
            Settings(cors_origins=[wrong])


# --- body limits -------------------------------------------------------------------------------


class Chunks:
    """A request body sent in 64 KiB pieces, counting how many the server pulled."""

    def __init__(self, total: int, piece: bytes = b" " * 65536):
        self.total, self.piece, self.sent = total, piece, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.total):
            self.sent += 1
            yield self.piece


async def test_a_content_length_past_the_limit_is_refused_before_a_byte_is_read(
    edge: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = edge
    body = Chunks(32)  # 2 MiB, announced by Content-Length
    headers = {**JSON, "Content-Length": str(32 * 65536)}
    response = await client.post(f"{prefix}{LOGIN}", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LARGE}
    assert body.sent == 0


async def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(
    edge: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = edge
    body = Chunks(640)  # 40 MiB, chunked: no Content-Length
    response = await client.post(f"{prefix}{LOGIN}", content=body, headers=JSON)
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LARGE}
    assert body.sent == LIMIT // 65536 + 1  # one piece past the limit, then no more reading
    # Within the limit, a streamed body is read as usual.
    small = await client.post(f"{prefix}{LOGIN}", content=Chunks(2, b'{"email": 1}'), headers=JSON)
    assert small.status_code == 422


async def test_the_refusal_is_rendered_by_the_app_with_its_error_codes(settings: Settings) -> None:
    server = build_server(settings, only="coach")  # coach answers a stable `code` beside `detail`
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        response = await client.post("/api/v1/auth/login", content=b" " * (LIMIT + 1), headers=JSON)
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LARGE, "code": "payload_too_large"}


def test_the_default_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().max_body_bytes == LIMIT
    monkeypatch.setenv("KEEL_MAX_BODY_BYTES", str(4 * LIMIT))
    assert Settings().max_body_bytes == 4 * LIMIT


async def test_a_lower_setting_is_enforced(settings: Settings) -> None:
    server = build_server(settings.model_copy(update={"max_body_bytes": 2048}), only="shop")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        response = await client.post(LOGIN, content=b" " * 2049, headers=JSON)
    assert response.status_code == 413
    assert (
        response.json()["detail"] == "The request body is too large: at most 2 KB (2,048 bytes) is accepted"
    )


# --- gzip --------------------------------------------------------------------------------------


async def test_a_gzip_body_is_inflated_for_the_app(edge: tuple[httpx.AsyncClient, str]) -> None:
    client, prefix = edge
    body = gzip.compress(orjson.dumps({"email": 1}))
    response = await client.post(
        f"{prefix}{LOGIN}", content=body, headers={**JSON, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 422  # the decoded JSON reached the app's validation
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "email"], ["body", "password"]]


async def test_a_gzip_bomb_is_refused_after_inflating_one_byte_past_the_limit(
    edge: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = edge
    bomb = gzip.compress(b" " * (16 * LIMIT), compresslevel=1)  # 16 MiB of spaces in under 100 KB
    assert len(bomb) < LIMIT // 10
    headers = {**JSON, "Content-Encoding": "gzip"}
    response = await client.post(f"{prefix}{LOGIN}", content=bomb, headers=headers)
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LARGE}
    streamed = await client.post(f"{prefix}{LOGIN}", content=Chunks(1, bomb), headers=headers)
    assert streamed.status_code == 413


async def test_bad_gzip_is_400_and_other_encodings_are_415(edge: tuple[httpx.AsyncClient, str]) -> None:
    client, prefix = edge
    whole = gzip.compress(orjson.dumps({"email": "a@example.com", "password": "x" * 40}))
    for wrong in (b"not gzip at all", whole[: len(whole) // 2], whole + b"trailing"):
        response = await client.post(
            f"{prefix}{LOGIN}", content=wrong, headers={**JSON, "Content-Encoding": "gzip"}
        )
        assert response.status_code == 400, wrong
        assert response.json()["detail"].startswith("The request body is not valid gzip")
    for encoding in ("br", "deflate", "gzip, gzip"):
        response = await client.post(
            f"{prefix}{LOGIN}", content=b"{}", headers={**JSON, "Content-Encoding": encoding}
        )
        assert response.status_code == 415, encoding
        assert "not supported" in response.json()["detail"]
    identity = await client.post(f"{prefix}{LOGIN}", json={}, headers={"Content-Encoding": "identity"})
    assert identity.status_code == 422


# --- a real server -----------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`keel serve --app shop` on a free port (SQLite, migrated by serve itself)."""
    env = {**os.environ, "KEEL_DATA_DIR": str(tmp_path), "KEEL_ACCESS_LOG": "false", "KEEL_ENV": "test"}
    with serving(env, "--app", "shop", timeout=60) as server:
        yield server.url


def _response_to_a_partial_body(port: int, head: bytes, sent: bytes) -> tuple[bytes, bytes]:
    """Sends the head and part of a body, never the rest, and reads the whole answer: only a
    server that refuses before reading the body can give one."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head + sent)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += connection.recv(65536)
        status_and_headers, _, body = answer.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in status_and_headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        while len(body) < length:
            body += connection.recv(65536)
    return status_and_headers.split(b"\r\n", 1)[0], body


def test_a_40_mb_login_is_refused_unread_and_the_server_goes_on_serving(served: str) -> None:
    port = int(served.rsplit(":", 1)[1])
    announced = b"POST /api/auth/login HTTP/1.1\r\nHost: keel\r\nContent-Type: application/json\r\n"
    status, body = _response_to_a_partial_body(
        port, announced + b"Content-Length: 41943040\r\n\r\n", b'{"email": "' + b"a" * 65536
    )
    assert status.startswith(b"HTTP/1.1 413 ")
    assert orjson.loads(body) == {"detail": TOO_LARGE}
    # Chunked, past the limit and never finished: refused as it passes the limit.
    piece = b"10000\r\n" + b" " * 65536 + b"\r\n"
    status, body = _response_to_a_partial_body(
        port, announced + b"Transfer-Encoding: chunked\r\n\r\n", piece * (LIMIT // 65536 + 1)
    )
    assert status.startswith(b"HTTP/1.1 413 ")
    # A client that sends all 40 MB gets the same answer, and its connection serves the next request.
    with httpx.Client(base_url=served, timeout=60) as client:
        whole = b'{"email": "' + b"a" * (40 * LIMIT) + b'", "password": "x"}'
        response = client.post("/api/auth/login", content=whole, headers=JSON)
        assert response.status_code == 413
        assert response.json() == {"detail": TOO_LARGE}
        assert client.get("/api/products").status_code == 200
    assert httpx.get(f"{served}/health").json()["status"] == "ok"
