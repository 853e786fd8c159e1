"""Whose address a login is throttled by, through a real `keel serve` (uvicorn decides it, per
process): the peer's own unless KEEL_TRUSTED_PROXIES names it, and only then the client that its
X-Forwarded-For names. The address is the server's business, not the database's: SQLite only."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

import httpx

from tests.serving import serving

# A tenth of the login limits: 3 attempts per address and 1 per account before a 429, refilled
# over a minute, so a handful of requests shows whose address was counted.
SCALE = "0.1"
_emails = count(1)


@contextmanager
def _serving(tmp_path: Path, **settings: str) -> Iterator[str]:
    env = {
        **os.environ,
        "KEEL_DATA_DIR": str(tmp_path / "data"),
        "KEEL_ACCESS_LOG": "false",
        "KEEL_RATE_LIMIT_SCALE": SCALE,
        **settings,
    }
    env.pop("KEEL_SHOP_DATABASE_URL", None)  # the shop's SQLite file in the data folder
    with serving(env, "--app", "shop", log=tmp_path / "server.log", timeout=60) as server:
        yield server.url


def _login(base: str, forwarded_for: str) -> int:
    # A new account each time: only the address's bucket is spent twice.
    body = {"email": f"guess{next(_emails)}@example.com", "password": "wrong-password"}
    headers = {"X-Forwarded-For": forwarded_for}
    return httpx.post(f"{base}/api/auth/login", json=body, headers=headers, timeout=30).status_code


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path: Path) -> None:
    with _serving(tmp_path) as base:
        # Each request claims another client; all come from 127.0.0.1, which is what counts.
        statuses = [_login(base, f"203.0.113.{n}") for n in range(1, 5)]
        assert statuses == [401, 401, 401, 429]


def test_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    with _serving(tmp_path, KEEL_TRUSTED_PROXIES='["127.0.0.1"]') as base:
        statuses = [_login(base, "203.0.113.1") for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        # Another client behind the same proxy has attempts of its own.
        assert _login(base, "203.0.113.2") == 401
