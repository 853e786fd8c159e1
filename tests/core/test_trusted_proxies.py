"""Whose address a login is throttled by, through a real `keel serve` (uvicorn decides it, per
process): the peer's own unless KEEL_TRUSTED_PROXIES names it, and only then the client that its
X-Forwarded-For names. The address is the server's business, not the database's: SQLite only."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import httpx

# A tenth of the login limits: 3 attempts per address and 1 per account before a 429, refilled
# over a minute, so a handful of requests shows whose address was counted.
SCALE = "0.1"
_emails = count(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serving(tmp_path: Path, **settings: str) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "KEEL_DATA_DIR": str(tmp_path / "data"),
        "KEEL_ACCESS_LOG": "false",
        "KEEL_RATE_LIMIT_SCALE": SCALE,
        **settings,
    }
    env.pop("KEEL_SHOP_DATABASE_URL", None)  # the shop's SQLite file in the data folder
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "keel", "serve", "--app", "shop", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "keel serve did not become healthy"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def _login(base: str, forwarded_for: str) -> int:
    # A new account each time: only the address's bucket is spent twice.
    body = {"email": f"guess{next(_emails)}@example.com", "password": "wrong-password"}
    headers = {"X-Forwarded-For": forwarded_for}
    return httpx.post(f"{base}/api/auth/login", json=body, headers=headers, timeout=30).status_code


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path: Path) -> None:
    for base in _serving(tmp_path):
        # Each request claims another client; all come from 127.0.0.1, which is what counts.
        statuses = [_login(base, f"203.0.113.{n}") for n in range(1, 5)]
        assert statuses == [401, 401, 401, 429]


def test_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    for base in _serving(tmp_path, KEEL_TRUSTED_PROXIES='["127.0.0.1"]'):
        statuses = [_login(base, "203.0.113.1") for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        # Another client behind the same proxy has attempts of its own.
        assert _login(base, "203.0.113.2") == 401
