from decimal import Decimal

import httpx
import pytest

from tests.apps.shop import builders
from tests.apps.shop.builders import ADDRESS, Account


async def stock_of(shop: httpx.AsyncClient, product_id: int) -> int:
    return (await shop.get(f"/api/products/{product_id}")).json()["stock"]


async def test_an_order_takes_stock_and_snapshots_prices(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, price="19.99", stock=10)
    mug = await builders.product(shop, admin, price="0.10", stock=5)
    response = await builders.order(shop, buyer, (tee["id"], 2), (mug["id"], 3))
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "pending_payment"
    assert order["user_id"] == buyer.id
    # Decimal arithmetic: 2 x 19.99 + 3 x 0.10 is 40.28 exactly, not 40.279999...
    assert order["total_amount"] == 40.28
    assert order["shipping_address"]["city"] == ADDRESS["city"]
    lines = {line["product_id"]: line for line in order["items"]}
    assert lines[tee["id"]]["quantity"] == 2
    assert lines[tee["id"]]["price_at_purchase"] == 19.99
    assert lines[mug["id"]]["product_name"] == mug["name"]
    assert await stock_of(shop, tee["id"]) == 8
    assert await stock_of(shop, mug["id"]) == 2
    # A later price change leaves the order as it was sold.
    await shop.put(f"/api/products/{tee['id']}", json={"price": "25.00"}, headers=admin.headers)
    again = (await shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert again["total_amount"] == 40.28
    assert {line["price_at_purchase"] for line in again["items"]} == {19.99, 0.1}


async def test_the_same_product_twice_is_merged_into_one_line(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, price="5.00", stock=10)
    response = await builders.order(shop, buyer, (tee["id"], 2), (tee["id"], 3))
    assert response.status_code == 201
    assert [(line["product_id"], line["quantity"]) for line in response.json()["items"]] == [(tee["id"], 5)]
    assert response.json()["total_amount"] == 25.0
    assert await stock_of(shop, tee["id"]) == 5


async def test_an_unknown_product_is_404_naming_it_and_nothing_is_written(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, stock=10)
    response = await builders.order(shop, buyer, (tee["id"], 1), (999_999, 1))
    assert response.status_code == 404
    assert "999999" in response.json()["detail"]
    assert await stock_of(shop, tee["id"]) == 10
    assert (await shop.get("/api/orders", headers=buyer.headers)).json() == []


async def test_insufficient_stock_is_400_naming_the_product_and_nothing_is_written(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    plenty = await builders.product(shop, admin, stock=100)
    scarce = await builders.product(shop, admin, name="Last Hoodie", stock=1)
    # The plentiful product's stock is taken first (lower id); the rollback must give it back.
    response = await builders.order(shop, buyer, (plenty["id"], 5), (scarce["id"], 2))
    assert response.status_code == 400
    assert "Last Hoodie" in response.json()["detail"]
    assert await stock_of(shop, plenty["id"]) == 100
    assert await stock_of(shop, scarce["id"]) == 1
    assert (await shop.get("/api/orders", headers=buyer.headers)).json() == []


@pytest.mark.parametrize(
    "items",
    [
        [{"product_id": 1, "quantity": 0}],
        [{"product_id": 1, "quantity": 1001}],
        [{"product_id": 1, "quantity": -1}],
        [],
        [{"product_id": 0, "quantity": 1}],
    ],
)
async def test_malformed_orders_are_422(shop: httpx.AsyncClient, buyer: Account, items: list) -> None:
    body = {"items": items, "shipping_address": ADDRESS, "payment_method": "card"}
    response = await shop.post("/api/orders", json=body, headers=buyer.headers)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


async def test_merged_quantities_above_1000_are_422(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, stock=5000)
    response = await builders.order(shop, buyer, (tee["id"], 600), (tee["id"], 600))
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "items"]
    assert "1200" in problem["msg"]
    assert await stock_of(shop, tee["id"]) == 5000


async def test_orders_need_a_signed_in_user(shop: httpx.AsyncClient) -> None:
    body = {
        "items": [{"product_id": 1, "quantity": 1}],
        "shipping_address": ADDRESS,
        "payment_method": "card",
    }
    assert (await shop.post("/api/orders", json=body)).status_code == 401
    assert (await shop.get("/api/orders")).status_code == 401
    assert (await shop.get("/api/orders/1")).status_code == 401


async def test_the_list_shows_only_my_orders_newest_first_with_item_counts(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin, stock=100)
    first = (await builders.order(shop, buyer, (tee["id"], 2))).json()
    second = (await builders.order(shop, buyer, (tee["id"], 3), (tee["id"], 1))).json()
    await builders.order(shop, other, (tee["id"], 1))
    await shop.post(f"/api/orders/{first['id']}/pay", headers=buyer.headers)

    listed = (await shop.get("/api/orders", headers=buyer.headers)).json()
    assert [(o["id"], o["item_count"], o["status"]) for o in listed] == [
        (second["id"], 4, "pending_payment"),
        (first["id"], 2, "paid"),
    ]
    assert set(listed[0]) == {"id", "user_id", "total_amount", "status", "created_at", "item_count"}
    paid = (await shop.get("/api/orders", params={"status": "paid"}, headers=buyer.headers)).json()
    assert [o["id"] for o in paid] == [first["id"]]
    page = (await shop.get("/api/orders", params={"skip": 1, "limit": 1}, headers=buyer.headers)).json()
    assert [o["id"] for o in page] == [first["id"]]
    bad = await shop.get("/api/orders", params={"status": "lost"}, headers=buyer.headers)
    assert bad.status_code == 422


async def test_another_users_order_is_invisible(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin, stock=10)
    order = (await builders.order(shop, buyer, (tee["id"], 1))).json()
    for method, path in (
        ("GET", f"/api/orders/{order['id']}"),
        ("POST", f"/api/orders/{order['id']}/pay"),
        ("POST", f"/api/orders/{order['id']}/cancel"),
    ):
        response = await shop.request(method, path, headers=other.headers)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Order not found"}
    # The back office sees every order.
    assert (await shop.get(f"/api/orders/{order['id']}", headers=admin.headers)).status_code == 200
    assert (await shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()[
        "status"
    ] == "pending_payment"


async def test_the_happy_path_pay_ship_deliver(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, stock=10)
    order_id = (await builders.order(shop, buyer, (tee["id"], 1))).json()["id"]
    paid = await shop.post(
        f"/api/orders/{order_id}/pay", json={"payment_method": "line_pay"}, headers=buyer.headers
    )
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid"
    assert paid.json()["payment_method"] == "line_pay"
    assert paid.json()["paid_at"] is not None
    assert (await shop.post(f"/api/orders/{order_id}/ship", headers=buyer.headers)).status_code == 403
    shipped = await shop.post(f"/api/orders/{order_id}/ship", headers=admin.headers)
    assert shipped.json()["status"] == "shipped"
    delivered = await shop.post(f"/api/orders/{order_id}/deliver", headers=admin.headers)
    assert delivered.status_code == 200
    assert delivered.json()["status"] == "delivered"
    assert delivered.json()["delivered_at"] is not None


async def test_illegal_moves_are_409_and_change_nothing(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, stock=10)
    order_id = (await builders.order(shop, buyer, (tee["id"], 1))).json()["id"]
    ship_unpaid = await shop.post(f"/api/orders/{order_id}/ship", headers=admin.headers)
    assert ship_unpaid.status_code == 409
    assert "pending_payment" in ship_unpaid.json()["detail"]
    assert (await shop.post(f"/api/orders/{order_id}/deliver", headers=admin.headers)).status_code == 409
    await shop.post(f"/api/orders/{order_id}/pay", headers=buyer.headers)
    assert (await shop.post(f"/api/orders/{order_id}/pay", headers=buyer.headers)).status_code == 409
    await shop.post(f"/api/orders/{order_id}/ship", headers=admin.headers)
    cancel_shipped = await shop.post(f"/api/orders/{order_id}/cancel", headers=buyer.headers)
    assert cancel_shipped.status_code == 409
    assert (await shop.get(f"/api/orders/{order_id}", headers=buyer.headers)).json()["status"] == "shipped"
    assert await stock_of(shop, tee["id"]) == 9


@pytest.mark.parametrize("pay_first", [False, True])
async def test_cancelling_gives_the_stock_back_once(
    shop: httpx.AsyncClient, admin: Account, buyer: Account, pay_first: bool
) -> None:
    tee = await builders.product(shop, admin, stock=10)
    order_id = (await builders.order(shop, buyer, (tee["id"], 4))).json()["id"]
    if pay_first:
        await shop.post(f"/api/orders/{order_id}/pay", headers=buyer.headers)
    assert await stock_of(shop, tee["id"]) == 6
    cancelled = await shop.post(f"/api/orders/{order_id}/cancel", headers=buyer.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_at"] is not None
    assert await stock_of(shop, tee["id"]) == 10
    assert (await shop.post(f"/api/orders/{order_id}/cancel", headers=buyer.headers)).status_code == 409
    assert await stock_of(shop, tee["id"]) == 10


async def test_money_is_exact_for_large_orders(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    # 100 units: the most one buyer's unpaid orders may hold of a product by default.
    gold = await builders.product(shop, admin, price="99999999.99", stock=1000)
    response = await builders.order(shop, buyer, (gold["id"], 100))
    assert response.status_code == 201
    assert Decimal(str(response.json()["total_amount"])) == Decimal("9999999999.00")
