"""The combined server: apps under /<slug>, /health, /metrics, and the index."""

from collections.abc import AsyncIterator

import httpx
import pytest

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings


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


async def test_health_reports_each_database_with_timing(combined: httpx.AsyncClient, dialect: str) -> None:
    response = await combined.get("/health")
    assert response.status_code == 200
    shop = response.json()["apps"]["shop"]
    assert shop["database"] == "ok"
    assert shop["dialect"] == ("mysql" if dialect == "mariadb" else dialect)
    assert shop["latency_ms"] >= 0


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
