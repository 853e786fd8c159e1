"""Many buyers at once: stock is taken by one conditional update per line, so no interleaving
of concurrent transactions can sell more than there is."""

import asyncio
from collections import Counter

import httpx

from tests.apps.shop import builders
from tests.apps.shop.builders import Account


async def test_100_concurrent_orders_for_10_units_sell_exactly_10(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    buyers = [await builders.account(shop) for _ in range(5)]
    hoodie = await builders.product(shop, admin, name="Limited Hoodie", stock=10)

    responses = await asyncio.gather(
        *(builders.order(shop, buyers[i % len(buyers)], (hoodie["id"], 1)) for i in range(100))
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 10, 400: 90}, statuses
    for response in responses:
        if response.status_code == 400:
            assert "Limited Hoodie" in response.json()["detail"]
    assert (await shop.get(f"/api/products/{hoodie['id']}")).json()["stock"] == 0
    placed = [await shop.get("/api/orders", headers=buyer.headers) for buyer in buyers]
    assert sum(len(page.json()) for page in placed) == 10


async def test_concurrent_orders_over_shared_products_never_deadlock(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    """Orders naming the same products in opposite orders lock rows in one order (by id)."""
    buyer = await builders.account(shop)
    a = await builders.product(shop, admin, stock=1000)
    b = await builders.product(shop, admin, stock=1000)
    responses = await asyncio.gather(
        *(
            builders.order(
                shop, buyer, *(((a["id"], 1), (b["id"], 1)) if i % 2 else ((b["id"], 1), (a["id"], 1)))
            )
            for i in range(40)
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 40}
    assert (await shop.get(f"/api/products/{a['id']}")).json()["stock"] == 960
    assert (await shop.get(f"/api/products/{b['id']}")).json()["stock"] == 960


async def test_concurrent_cancels_give_stock_back_once(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, stock=10)
    order_id = (await builders.order(shop, buyer, (tee["id"], 3))).json()["id"]
    responses = await asyncio.gather(
        *(shop.post(f"/api/orders/{order_id}/cancel", headers=buyer.headers) for _ in range(10))
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 9}
    assert (await shop.get(f"/api/products/{tee['id']}")).json()["stock"] == 10
