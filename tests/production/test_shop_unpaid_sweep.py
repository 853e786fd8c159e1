"""Expiring reservations through a real `keel serve --app shop --workers 2` on PostgreSQL (issue 13
item 2): both processes check the `unpaid_orders` sweep, orders placed on either worker expire
while buyers cancel some of them at the same moment, and every order is cancelled exactly once:
the stock comes back to what it was before checkout, and stays there.

A server of its own rather than the session's (tests/production/conftest.py): its reservations
last 1.2 s and its sweep runs every 0.2 s, which the other flows must not see."""

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from keel.apps.shop.models import SweepLease
from tests.apps.shop import builders
from tests.databases import SERVER_URLS, drop_database, fresh_database, require_service
from tests.production.conftest import Production, _keel
from tests.serving import serving

ADMIN_EMAIL = "unpaid-admin@example.com"
ADMIN_PASSWORD = "production-shape-admin"
BUYERS = 8
ORDERS_PER_BUYER = 8


@pytest.fixture
async def expiring(tmp_path: Path) -> AsyncIterator[tuple[Production, str]]:
    require_service("postgresql", SERVER_URLS["postgresql"])
    url = await fresh_database("postgresql", "keel_production_shop_unpaid", tmp_path)
    env = {
        **os.environ,
        "KEEL_ENV": "production",
        "KEEL_SECRET_KEY": "production-shape-secret-" + "u" * 24,
        "KEEL_ADMIN_EMAIL": ADMIN_EMAIL,
        "KEEL_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "KEEL_DATA_DIR": str(tmp_path / "data"),
        "KEEL_ACCESS_LOG": "false",
        "KEEL_DATABASE_POOL_SIZE": "2",
        "KEEL_SHOP_DATABASE_URL": url,
        "KEEL_SHOP_UNPAID_ORDER_MINUTES": "0.02",
        "KEEL_SHOP_UNPAID_SWEEP_SECONDS": "0.2",
        "KEEL_SHOP_MAX_UNPAID_ORDERS": str(ORDERS_PER_BUYER),
    }
    try:
        await asyncio.to_thread(_keel, env, "migrate", "--app", "shop")
        await asyncio.to_thread(_keel, env, "seed", "--app", "shop")
        with serving(
            env, "--app", "shop", "--workers", "2", log=tmp_path / "serve.log", timeout=90
        ) as server:
            metrics = tmp_path / "data" / "prometheus"
            yield Production(server.url, 0, metrics, tmp_path / "views"), url
    finally:
        await drop_database("postgresql", url)


async def _sweep_runs(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            runs = await connection.scalar(select(SweepLease.runs).where(SweepLease.name == "unpaid_orders"))
    finally:
        await engine.dispose()
    return runs or 0


async def _until(check, what: str, attempts: int = 600):
    for _ in range(attempts):
        if value := await check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_expired_orders_on_both_workers_are_cancelled_once_and_the_stock_comes_back(
    expiring: tuple[Production, str],
) -> None:
    production, url = expiring
    async with httpx.AsyncClient(
        base_url=production.base_url, limits=httpx.Limits(max_keepalive_connections=0), timeout=30
    ) as shop:
        login = await shop.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        admin = builders.Account(0, "admin", ADMIN_EMAIL, login.json()["access_token"], "")
        tee = await builders.product(shop, admin, stock=500)
        mug = await builders.product(shop, admin, stock=300)
        buyers = [await builders.account(shop) for _ in range(BUYERS)]
        placed = await asyncio.gather(
            *(
                builders.order(shop, buyer, (tee["id"], 3), (mug["id"], 2))
                for buyer in buyers
                for _ in range(ORDERS_PER_BUYER)
            )
        )
        assert {answer.status_code for answer in placed} == {201}, [
            a.text for a in placed if a.status_code != 201
        ]
        orders = [(buyers[i // ORDERS_PER_BUYER], answer.json()["id"]) for i, answer in enumerate(placed)]
        stock = {p["id"]: (await shop.get(f"/api/products/{p['id']}")).json()["stock"] for p in (tee, mug)}
        assert stock == {tee["id"]: 500 - 3 * len(orders), mug["id"]: 300 - 2 * len(orders)}

        # Every other order's buyer cancels it as it expires, racing the sweep for it.
        async def cancel_later(buyer: builders.Account, order_id: int) -> int:
            await asyncio.sleep(1.2)
            return (await shop.post(f"/api/orders/{order_id}/cancel", headers=buyer.headers)).status_code

        cancels = await asyncio.gather(*(cancel_later(buyer, order_id) for buyer, order_id in orders[::2]))
        assert set(cancels) <= {200, 409}

        async def all_cancelled() -> list[dict]:
            seen = [
                (await shop.get(f"/api/orders/{oid}", headers=buyer.headers)).json() for buyer, oid in orders
            ]
            return seen if all(order["status"] == "cancelled" for order in seen) else []

        final = await _until(all_cancelled, "every order cancelled")
        reasons = Counter(order["cancel_reason"] for order in final)
        assert reasons["buyer"] == cancels.count(200)
        assert reasons["expired"] == len(orders) - cancels.count(200) > 0

        async def restored() -> bool:
            now = {p["id"]: (await shop.get(f"/api/products/{p['id']}")).json()["stock"] for p in (tee, mug)}
            return now == {tee["id"]: 500, mug["id"]: 300}

        await _until(restored, "the stock back to what it was before checkout")
        # A few more runs of the sweep give nothing back twice.
        runs = await _sweep_runs(url)
        await _until(lambda: _more_runs(url, runs + 3), "three more sweep runs")
        assert await restored()

    # Both processes took part: each checked the sweep's lease, and the lease ran it once per interval.
    checks = production.counted("keel_sweep_checks", app="shop", sweep="unpaid_orders")
    assert len(checks) == 2, checks


async def _more_runs(url: str, runs: int) -> bool:
    return await _sweep_runs(url) >= runs
