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


class _Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_write_conflict_is_retried_then_answered_409(
    shop: httpx.AsyncClient, admin: Account, buyer: Account, dialect: str, monkeypatch
) -> None:
    """Conflicts cannot be forced reliably, so they are injected where the checkout runs."""
    from sqlalchemy.exc import DBAPIError

    from keel.core.db import Autocommit, run_transaction

    tee = await builders.product(shop, admin, stock=10)
    conflicts = {"left": 1}

    def conflict() -> DBAPIError:
        return DBAPIError("checkout", {}, _Deadlock("deadlock detected"))

    if dialect == "postgresql":
        real_execute = Autocommit.execute

        async def execute(self, statement, parameters=None):  # type: ignore[no-untyped-def]
            if "INSERT INTO order_items" in str(statement) and conflicts["left"] > 0:
                conflicts["left"] -= 1
                raise conflict()
            return await real_execute(self, statement, parameters)

        monkeypatch.setattr(Autocommit, "execute", execute)
    else:

        async def flaky_transaction(session, work, *, attempts, **kwargs):  # type: ignore[no-untyped-def]
            async def work_that_conflicts_first():  # type: ignore[no-untyped-def]
                if conflicts["left"] > 0:
                    conflicts["left"] -= 1
                    raise conflict()
                return await work()

            return await run_transaction(session, work_that_conflicts_first, attempts=attempts, **kwargs)

        monkeypatch.setattr("keel.apps.shop.services.checkout.run_transaction", flaky_transaction)

    retried = await builders.order(shop, buyer, (tee["id"], 2))
    assert retried.status_code == 201, retried.text
    assert conflicts["left"] == 0

    conflicts["left"] = 1_000  # more than any number of attempts
    persistent = await builders.order(shop, buyer, (tee["id"], 2))
    assert persistent.status_code == 409
    assert "retry" in persistent.json()["detail"]
    assert (await shop.get(f"/api/products/{tee['id']}")).json()["stock"] == 8
    assert len((await shop.get("/api/orders", headers=buyer.headers)).json()) == 1
