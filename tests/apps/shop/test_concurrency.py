"""Many buyers at once: the orders that arrive together are decided in one transaction on the
locked stock, each on its own, so no interleaving can sell more than there is and no order is
refused for a neighbour's sake."""

import asyncio
from collections import Counter

import httpx

from tests.apps.shop import builders
from tests.apps.shop.builders import Account


async def test_100_concurrent_orders_for_10_units_sell_exactly_10(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    # Five orders per buyer, the most one may hold unpaid: with more, a buyer who got several
    # units could be refused for the limit (409) rather than the stock.
    buyers = [await builders.account(shop) for _ in range(20)]
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
    buyers = [await builders.account(shop) for _ in range(8)]  # 5 unpaid orders each at most
    a = await builders.product(shop, admin, stock=1000)
    b = await builders.product(shop, admin, stock=1000)
    responses = await asyncio.gather(
        *(
            builders.order(
                shop,
                buyers[i % 8],
                *(((a["id"], 1), (b["id"], 1)) if i % 2 else ((b["id"], 1), (a["id"], 1))),
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


class _Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_write_conflict_is_retried_then_answered_409(
    shop: httpx.AsyncClient, admin: Account, buyer: Account, monkeypatch
) -> None:
    """Conflicts cannot be forced reliably, so one is injected where the batch writes its orders."""
    from sqlalchemy.exc import DBAPIError

    from keel.apps.shop.services import checkout

    tee = await builders.product(shop, admin, stock=10)
    conflicts = {"left": 1}
    real_insert = checkout._insert

    async def insert(connection, table, rows):  # type: ignore[no-untyped-def]
        if table.name == "order_items" and conflicts["left"] > 0:
            conflicts["left"] -= 1
            raise DBAPIError("checkout", {}, _Deadlock("deadlock detected"))
        return await real_insert(connection, table, rows)

    monkeypatch.setattr(checkout, "_insert", insert)

    retried = await builders.order(shop, buyer, (tee["id"], 2))
    assert retried.status_code == 201, retried.text
    assert conflicts["left"] == 0

    conflicts["left"] = 1_000  # more than any number of attempts
    persistent = await builders.order(shop, buyer, (tee["id"], 2))
    assert persistent.status_code == 409
    assert "retry" in persistent.json()["detail"]
    assert (await shop.get(f"/api/products/{tee['id']}")).json()["stock"] == 8
    assert len((await shop.get("/api/orders", headers=buyer.headers)).json()) == 1


async def test_orders_decided_together_each_succeed_or_fail_on_their_own(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    """Stock 10, and at once: one order of 11 (never servable), ten of 1, and one for a product
    that does not exist. However they are batched, the ten are sold and only the two fail."""
    buyers = [await builders.account(shop) for _ in range(4)]
    mug = await builders.product(shop, admin, name="Flash Mug", stock=10)
    too_many = builders.order(shop, buyers[0], (mug["id"], 11))
    unknown = builders.order(shop, buyers[1], (mug["id"], 1), (999_999, 1))
    singles = [builders.order(shop, buyers[i % 4], (mug["id"], 1)) for i in range(10)]
    answers = await asyncio.gather(too_many, unknown, *singles)

    assert answers[0].status_code == 400 and "left, 11 requested" in answers[0].json()["detail"]
    assert answers[1].status_code == 404 and answers[1].json()["detail"] == "Product 999999 not found"
    assert Counter(answer.status_code for answer in answers[2:]) == {201: 10}
    assert len({answer.json()["id"] for answer in answers[2:]}) == 10
    assert all(answer.json()["items"][0]["id"] for answer in answers[2:])
    assert (await shop.get(f"/api/products/{mug['id']}")).json()["stock"] == 0
