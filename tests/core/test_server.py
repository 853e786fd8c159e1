"""The combined server: apps under /<slug>, /health, /metrics, and the index."""

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from keel.apps import load_app
from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.broker import Broker
from tests.databases import REDIS_URL, empty_tables, require_service
from tests.serving import free_port, in_process


@pytest.fixture
async def combined(shop_database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    server = build_server(settings, databases={"shop": shop_database})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        yield client


async def test_each_app_is_mounted_under_its_slug_with_its_own_docs(combined: httpx.AsyncClient) -> None:
    assert (await combined.get("/shop/api/products")).status_code == 200
    assert (await combined.get("/api/products")).status_code == 404
    schema = (await combined.get("/shop/openapi.json")).json()
    assert "/api/products" in schema["paths"]
    assert schema["info"]["title"] == "keel shop"
    docs = await combined.get("/shop/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    index = (await combined.get("/")).json()
    assert index["apps"]["shop"]["docs"] == "/shop/docs"


@asynccontextmanager
async def _live_badge(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """badge alone, served with its lifespan, so its startup hooks (the MQTT bridge) and sweeps
    run as in `keel serve`; its tables, the sweeps' leases among them, are emptied afterwards."""
    app = build_server(settings, only="badge", databases={"badge": database})
    try:
        async with in_process(app) as url, httpx.AsyncClient(base_url=url) as client:
            yield client
    finally:
        await empty_tables(database, load_app("badge").metadata)


async def test_health_reports_each_database_with_timing(combined: httpx.AsyncClient, dialect: str) -> None:
    response = await combined.get("/health")
    assert response.status_code == 200
    shop = response.json()["apps"]["shop"]
    assert shop["database"] == "ok"
    assert shop["dialect"] == ("mysql" if dialect == "mariadb" else dialect)
    assert shop["latency_ms"]["database"] >= 0
    assert "redis" not in shop  # not configured, so not checked


async def test_health_checks_the_database_redis_and_the_mqtt_broker_with_timings(
    badge_database: Database, settings: Settings, tmp_path: Path
) -> None:
    require_service("redis", REDIS_URL)
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    broker = Broker(tmp_path)
    broker.start()
    configured = settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "badge_mqtt_url": broker.url,
            "badge_mqtt_client_id": f"keel-test-{os.getpid()}-{time.monotonic_ns()}",
            "data_dir": tmp_path,
        }
    )
    try:
        async with _live_badge(configured, badge_database) as client:
            deadline = time.monotonic() + 10
            response = await client.get("/health")
            while response.status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # the bridge connects in the background
                response = await client.get("/health")
            assert response.status_code == 200, response.json()
            badge = response.json()["apps"]["badge"]
            assert (badge["database"], badge["redis"], badge["mqtt"]) == ("ok", "ok", "ok")
            assert set(badge["latency_ms"]) == {"database", "redis", "mqtt"}
            assert all(milliseconds >= 0 for milliseconds in badge["latency_ms"].values())

            broker.stop()  # the ingest's session is gone: degraded until it is back
            response = await client.get("/health")
            while response.status_code == 200 and time.monotonic() < deadline + 10:
                await asyncio.sleep(0.1)
                response = await client.get("/health")
            assert response.status_code == 503
            badge = response.json()["apps"]["badge"]
            assert badge["mqtt"].startswith("error") and badge["database"] == badge["redis"] == "ok"
    finally:
        broker.stop()


async def test_health_is_503_when_redis_is_down(shop_database: Database, settings: Settings) -> None:
    configured = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    server = build_server(configured, databases={"shop": shop_database})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    shop = response.json()["apps"]["shop"]
    assert shop["database"] == "ok" and shop["redis"].startswith("error")
    assert set(shop["latency_ms"]) == {"database", "redis"}


async def test_health_is_503_when_the_mqtt_broker_is_unreachable(
    badge_database: Database, settings: Settings, tmp_path: Path
) -> None:
    configured = settings.model_copy(
        update={"badge_mqtt_url": f"mqtt://127.0.0.1:{free_port()}", "data_dir": tmp_path}
    )
    async with _live_badge(configured, badge_database) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    badge = response.json()["apps"]["badge"]
    assert badge["database"] == "ok" and badge["mqtt"].startswith("error")
    assert badge["latency_ms"]["mqtt"] >= 0


async def test_health_is_503_when_a_database_is_down(settings: Settings) -> None:
    unreachable = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    server = build_server(settings, databases={"shop": unreachable})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://keel.test"
    ) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["apps"]["shop"]["database"].startswith("error")
    await unreachable.dispose()


async def test_metrics_count_requests_by_app_route_template_and_status(combined: httpx.AsyncClient) -> None:
    await combined.get("/shop/api/products/424242")
    text = (await combined.get("/metrics")).text
    assert (
        'keel_http_requests_total{app="shop",method="GET",route="/api/products/{product_id}",status="404"}'
        in text
    )
    assert "keel_http_request_duration_seconds_bucket" in text


async def test_every_response_carries_a_request_id(combined: httpx.AsyncClient) -> None:
    first = await combined.get("/health")
    second = await combined.get("/shop/api/products")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
