"""The commands a newcomer runs: migrate, seed (twice), serve one app at the root or all
under their slugs, and print an OpenAPI document; seeding in production. Real processes, on
embedded SQLite (production seeding on every dialect)."""

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keel.apps import APP_SLUGS
from keel.settings import DEFAULT_ADMIN_PASSWORD
from tests.databases import drop_database, fresh_database
from tests.serving import KEEL, serving


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "KEEL_DATA_DIR": str(tmp_path / "data"), "KEEL_ACCESS_LOG": "false"}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KEEL, *args], env=env, capture_output=True, text=True, timeout=120, check=True)


def test_seed_is_idempotent_and_gives_the_documented_demo_data(env: dict[str, str]) -> None:
    run(env, "migrate")
    run(env, "seed")
    run(env, "seed")
    with serving(env) as server:
        base = f"{server.url}/shop"
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

        fitness = f"{server.url}/fitness/api/v1"
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


# Each app's demo account (`keel seed` in development), where the app signs users in, and its
# answer to an unknown account (queue's spec says 404).
DEMO_LOGINS = {
    "shop": ("/api/auth/login", "user@example.com", 401),
    "fitness": ("/api/v1/auth/login", "athlete@example.com", 401),
    "coach": ("/api/v1/auth/login", "coach@example.com", 401),
    "queue": ("/auth/login", "owner@example.com", 404),
    "badge": ("/api/v1/auth/login", "operator@example.com", 401),
}
DEMO_PASSWORD = "password123"
ADMIN_PASSWORD = "a-private-admin-password"


@pytest.fixture
def production_env(env: dict[str, str], dialect: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Production settings, every app's database on `dialect` (fresh), no admin password yet."""
    urls = {slug: asyncio.run(fresh_database(dialect, f"keel_cli_{slug}", tmp_path)) for slug in APP_SLUGS}
    production = {**env, "KEEL_ENV": "production", "KEEL_SECRET_KEY": "p" * 48}
    production.pop("KEEL_ADMIN_PASSWORD", None)
    production.update({f"KEEL_{slug.upper()}_DATABASE_URL": url for slug, url in urls.items()})
    yield production
    for url in urls.values():
        asyncio.run(drop_database(dialect, url))


def _login(base: str, slug: str, email: str, password: str) -> int:
    path = DEMO_LOGINS[slug][0]
    return httpx.post(f"{base}/{slug}{path}", json={"email": email, "password": password}).status_code


def test_production_seeds_the_admin_only_and_refuses_the_default_password(
    production_env: dict[str, str],
) -> None:
    run(production_env, "migrate")
    refused = subprocess.run([*KEEL, "seed"], env=production_env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "KEEL_ADMIN_PASSWORD" in refused.stderr
    seeded = {**production_env, "KEEL_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with serving(seeded) as server:
        base = server.url
        # The refused run wrote nothing: not even the admin with the documented password.
        assert _login(base, "shop", "admin@example.com", DEFAULT_ADMIN_PASSWORD) == 401
        run(seeded, "seed")
        for slug, (_, email, unknown) in DEMO_LOGINS.items():
            assert _login(base, slug, "admin@example.com", ADMIN_PASSWORD) == 200, slug
            assert _login(base, slug, email, DEMO_PASSWORD) == unknown, slug
        assert httpx.get(f"{base}/shop/api/products").json() == []
        assert httpx.get(f"{base}/fitness/api/v1/trainings").json()["total"] == 0
        # Asked for explicitly, production gets the demo data too.
        run(seeded, "seed", "--demo")
        for slug, (_, email, _) in DEMO_LOGINS.items():
            assert _login(base, slug, email, DEMO_PASSWORD) == 200, slug
        assert len(httpx.get(f"{base}/shop/api/products", params={"limit": 100}).json()) == 9


def test_serve_migrates_sqlite_by_itself_and_mounts_every_app(env: dict[str, str]) -> None:
    with serving(env) as server:
        base = server.url
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
