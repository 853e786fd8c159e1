"""A checkout retried after a lost answer places one order (`Idempotency-Key`), and one buyer
cannot hold a product's stock with unpaid orders (issue 13 items 1 and 2)."""

import asyncio
from collections import Counter

import httpx
import pytest

from tests.apps.shop import builders
from tests.apps.shop.builders import ADDRESS, Account


def _body(product_id: int, quantity: int = 1) -> dict:
    return {
        "items": [{"product_id": product_id, "quantity": quantity}],
        "shipping_address": ADDRESS,
        "payment_method": "card",
    }


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Idempotency-Key"])
async def test_a_retried_checkout_answers_the_first_order_and_takes_the_stock_once(
    shop: httpx.AsyncClient, admin: Account, buyer: Account, header: str
) -> None:
    tee = await builders.product(shop, admin, stock=10)
    headers = {**buyer.headers, header: "checkout-7f3a"}
    first = await shop.post("/api/orders", json=_body(tee["id"], 3), headers=headers)
    assert first.status_code == 201, first.text
    # The same JSON written another way (key order) is the same request.
    reordered = dict(reversed(list(_body(tee["id"], 3).items())))
    again = await shop.post("/api/orders", json=reordered, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert (await shop.get(f"/api/products/{tee['id']}")).json()["stock"] == 7
    assert [order["id"] for order in (await shop.get("/api/orders", headers=buyer.headers)).json()] == [
        first.json()["id"]
    ]

    other = await shop.post("/api/orders", json=_body(tee["id"], 4), headers=headers)
    assert other.status_code == 422
    assert "different request body" in other.json()["detail"][0]["msg"]


async def test_keys_are_per_buyer_and_a_refused_checkout_can_be_retried(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, stock=2)
    other = await builders.account(shop)
    key = {"Idempotency-Key": "same-key"}
    mine = await shop.post("/api/orders", json=_body(tee["id"]), headers={**buyer.headers, **key})
    theirs = await shop.post("/api/orders", json=_body(tee["id"]), headers={**other.headers, **key})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]

    # Refused (no stock left): the key is given back, so the same request runs again later.
    short = await shop.post(
        "/api/orders", json=_body(tee["id"]), headers={**buyer.headers, "Idempotency-Key": "k2"}
    )
    assert short.status_code == 400
    await shop.put(f"/api/products/{tee['id']}", json={"stock": 1}, headers=admin.headers)
    retried = await shop.post(
        "/api/orders", json=_body(tee["id"]), headers={**buyer.headers, "Idempotency-Key": "k2"}
    )
    assert retried.status_code == 201, retried.text


async def test_simultaneous_repeats_place_one_order(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    """Sent twenty times at once: one runs; each other one is the first's answer or a 409."""
    tee = await builders.product(shop, admin, stock=10)
    headers = {**buyer.headers, "Idempotency-Key": "burst"}
    answers = await asyncio.gather(
        *(shop.post("/api/orders", json=_body(tee["id"]), headers=headers) for _ in range(20))
    )
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {201, 409} and statuses[201] >= 1, statuses
    assert len({answer.json()["id"] for answer in answers if answer.status_code == 201}) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["detail"] == "A request with this idempotency key is still being processed"
    assert (await shop.get(f"/api/products/{tee['id']}")).json()["stock"] == 9


async def test_a_buyer_holds_at_most_5_unpaid_orders_and_100_units_of_a_product(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, name="Flash Tee", stock=1000)
    mug = await builders.product(shop, admin, stock=1000)
    held = await builders.order(shop, buyer, (tee["id"], 60))
    assert held.status_code == 201
    over = await builders.order(shop, buyer, (tee["id"], 41), (mug["id"], 1))
    assert over.status_code == 409
    assert over.json()["detail"] == (
        f"Product {tee['id']} (Flash Tee): your unpaid orders would hold 101 units, at most 100 per buyer"
    )
    assert (await builders.order(shop, buyer, (tee["id"], 40))).status_code == 201
    for _ in range(3):
        assert (await builders.order(shop, buyer, (mug["id"], 1))).status_code == 201
    sixth = await builders.order(shop, buyer, (mug["id"], 1))
    assert sixth.status_code == 409
    assert "5 unpaid orders" in sixth.json()["detail"]
    # Nothing of the refused ones was taken; another buyer is not limited by this one.
    assert (await shop.get(f"/api/products/{mug['id']}")).json()["stock"] == 997
    assert (await builders.order(shop, await builders.account(shop), (mug["id"], 1))).status_code == 201

    # Paying (or cancelling) one makes room again.
    paid = await shop.post(f"/api/orders/{held.json()['id']}/pay", headers=buyer.headers)
    assert paid.status_code == 200
    assert (await builders.order(shop, buyer, (tee["id"], 60))).status_code == 201


async def test_concurrent_orders_cannot_take_one_buyer_past_the_limit(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, stock=1000)
    answers = await asyncio.gather(*(builders.order(shop, buyer, (tee["id"], 1)) for _ in range(12)))
    assert Counter(answer.status_code for answer in answers) == {201: 5, 409: 7}
    assert (await shop.get(f"/api/products/{tee['id']}")).json()["stock"] == 995
