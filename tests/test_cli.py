"""The commands a newcomer runs: migrate, seed (twice), serve one app at the root or all
under their slugs, and print an OpenAPI document. Real processes, embedded SQLite."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

KEEL = [sys.executable, "-m", "keel"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "KEEL_DATA_DIR": str(tmp_path / "data"), "KEEL_ACCESS_LOG": "false"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KEEL, *args], env=env, capture_output=True, text=True, timeout=120, check=True)


def serving(env: dict[str, str], *args: str) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [*KEEL, "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
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


def test_seed_is_idempotent_and_gives_the_documented_demo_data(env: dict[str, str]) -> None:
    run(env, "migrate")
    run(env, "seed")
    run(env, "seed")
    for root in serving(env):
        base = f"{root}/shop"
        products = httpx.get(f"{base}/api/products", params={"limit": 100}).json()
        assert len(products) >= 8
        assert all(product["stock"] >= 50 for product in products)
        assert len({product["category_id"] for product in products}) >= 3
        assert len(httpx.get(f"{base}/api/categories").json()) == 3
        demo = httpx.post(
            f"{base}/api/auth/login", json={"email": "user@example.com", "password": "password123"}
        )
        assert demo.status_code == 200
        admin = httpx.post(
            f"{base}/api/auth/login", json={"email": "admin@example.com", "password": "admin12345"}
        )
        assert admin.json()["user"]["is_admin"] is True

        fitness = f"{root}/fitness/api/v1"
        athlete = httpx.post(
            f"{fitness}/auth/login", json={"email": "athlete@example.com", "password": "password123"}
        )
        assert athlete.status_code == 200
        trainings = httpx.get(f"{fitness}/trainings").json()
        assert trainings["total"] == 4
        for device in ("rower", "bike", "treadmill"):
            assert httpx.get(f"{fitness}/trainings", params={"device_type": device}).json()["total"] == 2
        gate = httpx.get(f"{fitness}/meta/app_version", params={"platform": "ios", "version": "1.0.0"}).json()
        assert gate["force_update"] is True


def test_serve_migrates_sqlite_by_itself_and_mounts_every_app(env: dict[str, str]) -> None:
    for base in serving(env):
        assert httpx.get(f"{base}/shop/api/products").json() == []
        health = httpx.get(f"{base}/health").json()
        assert health["apps"]["shop"]["database"] == "ok"
        assert "keel_http_requests_total" in httpx.get(f"{base}/metrics").text


def test_openapi_prints_the_apps_document(env: dict[str, str]) -> None:
    document = json.loads(run(env, "openapi", "shop").stdout)
    assert "/api/orders/{order_id}/cancel" in document["paths"]


def test_an_unknown_app_is_refused_clearly(env: dict[str, str]) -> None:
    result = subprocess.run(
        [*KEEL, "migrate", "--app", "nope"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "unknown app 'nope'" in result.stderr
