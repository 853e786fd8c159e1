from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from keel.apps.shop.models import Product
from keel.core.db import Database
from tests.apps.shop import builders
from tests.apps.shop.builders import Account

LIST_FIELDS = {"id", "name", "price", "image_url", "stock", "category_id"}
DETAIL_FIELDS = LIST_FIELDS | {"description", "category", "created_at", "updated_at"}


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


async def make_products(shop: httpx.AsyncClient, admin: Account, count: int, **fields: Any) -> list[int]:
    return [(await builders.product(shop, admin, **fields))["id"] for _ in range(count)]


async def paid_order(shop: httpx.AsyncClient, buyer: Account, *lines: tuple[int, int]) -> int:
    created = await builders.order(shop, buyer, *lines)
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    paid = await shop.post(f"/api/orders/{order_id}/pay", headers=buyer.headers)
    assert paid.status_code == 200, paid.text
    return order_id


# --- the list ------------------------------------------------------------------------------


async def test_an_empty_catalogue_lists_as_an_empty_array(shop: httpx.AsyncClient) -> None:
    response = await shop.get("/api/products")
    assert response.status_code == 200
    assert response.json() == []


async def test_the_list_is_a_bare_array_of_products_ordered_by_id(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    category = await builders.category(shop, admin, "Books")
    first = await builders.product(
        shop,
        admin,
        name="Zebra",
        price="19.99",
        stock=3,
        image_url="https://img.example.com/z.png",
        category_id=category["id"],
        description="long text",
    )
    second = await builders.product(shop, admin, name="Apple", price="5.00")
    response = await shop.get("/api/products")
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert body == [
        {
            "id": first["id"],
            "name": "Zebra",
            "price": 19.99,
            "image_url": "https://img.example.com/z.png",
            "stock": 3,
            "category_id": category["id"],
        },
        {
            "id": second["id"],
            "name": "Apple",
            "price": 5.0,
            "image_url": None,
            "stock": 50,
            "category_id": None,
        },
    ]
    # The spec writes the path as `GET /`: the trailing slash answers the same list.
    slash = await shop.get("/api/products/")
    assert slash.status_code == 200
    assert slash.json() == body


async def test_skip_and_limit_page_through_the_list(shop: httpx.AsyncClient, admin: Account) -> None:
    made = await make_products(shop, admin, 12)
    assert ids(await shop.get("/api/products")) == made[:10]  # default limit is 10
    assert ids(await shop.get("/api/products", params={"limit": 3})) == made[:3]
    assert ids(await shop.get("/api/products", params={"skip": 3, "limit": 4})) == made[3:7]
    assert ids(await shop.get("/api/products", params={"skip": 10})) == made[10:]
    assert ids(await shop.get("/api/products", params={"skip": 12})) == []
    assert ids(await shop.get("/api/products", params={"limit": 100})) == made


async def test_a_skip_too_large_for_the_database_is_422_not_500(shop: httpx.AsyncClient) -> None:
    for skip in (2**31, 2**63, 2**64, 10**30):
        response = await shop.get("/api/products", params={"skip": skip})
        assert response.status_code == 422, skip
        assert response.json()["detail"][0]["loc"] == ["query", "skip"]
    assert ids(await shop.get("/api/products", params={"skip": 2**31 - 1})) == []


async def test_paging_parameters_out_of_bounds_are_422(shop: httpx.AsyncClient) -> None:
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": -1}, "limit"),
        ({"skip": -1}, "skip"),
        ({"skip": "abc"}, "skip"),
        ({"limit": "many"}, "limit"),
    ):
        response = await shop.get("/api/products", params=params)
        assert response.status_code == 422, params
        detail = response.json()["detail"]
        assert isinstance(detail, list)
        assert detail[0]["loc"] == ["query", field], params


async def test_category_filter_matches_the_name_or_the_id(shop: httpx.AsyncClient, admin: Account) -> None:
    books = await builders.category(shop, admin, "Books")
    toys = await builders.category(shop, admin, "Toys")
    book_ids = await make_products(shop, admin, 2, category_id=books["id"])
    toy_ids = await make_products(shop, admin, 1, category_id=toys["id"])
    await make_products(shop, admin, 1)  # uncategorised

    assert ids(await shop.get("/api/products", params={"category": "Books"})) == book_ids
    assert ids(await shop.get("/api/products", params={"category": "Toys"})) == toy_ids
    assert ids(await shop.get("/api/products", params={"category": "BOOKS"})) == book_ids
    assert ids(await shop.get("/api/products", params={"category": str(books["id"])})) == book_ids
    assert ids(await shop.get("/api/products", params={"category": str(toys["id"])})) == toy_ids
    assert ids(await shop.get("/api/products", params={"category": "Garden"})) == []
    assert ids(await shop.get("/api/products", params={"category": "999999"})) == []
    # Filters and paging combine.
    assert ids(await shop.get("/api/products", params={"category": "Books", "skip": 1})) == book_ids[1:]


async def test_category_filter_takes_odd_numbers_as_names_not_errors(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    year = await builders.category(shop, admin, "2025")
    squared = await builders.category(shop, admin, "²")
    in_year = await make_products(shop, admin, 1, category_id=year["id"])
    in_squared = await make_products(shop, admin, 1, category_id=squared["id"])
    assert ids(await shop.get("/api/products", params={"category": "2025"})) == in_year
    # A digit that is not an ASCII digit, and a number too long to be an id, are only names.
    assert ids(await shop.get("/api/products", params={"category": "²"})) == in_squared
    for name in ("9" * 200, str(2**31), str(2**63), "0"):
        assert ids(await shop.get("/api/products", params={"category": name})) == [], name


async def test_category_filter_refuses_a_nul_character(shop: httpx.AsyncClient) -> None:
    response = await shop.get("/api/products", params={"category": "Bo\x00oks"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "category"]


async def test_sort_by_price_and_name(shop: httpx.AsyncClient, admin: Account) -> None:
    mid = (await builders.product(shop, admin, name="cherry", price="20.00"))["id"]
    cheap = (await builders.product(shop, admin, name="banana", price="5.50"))["id"]
    dear = (await builders.product(shop, admin, name="apple", price="120.00"))["id"]
    tie = (await builders.product(shop, admin, name="damson", price="20.00"))["id"]

    def sort(key: str) -> dict[str, str]:
        return {"sort_by": key}

    # Equal prices keep id order, whichever way the prices run.
    assert ids(await shop.get("/api/products", params=sort("price_asc"))) == [cheap, mid, tie, dear]
    assert ids(await shop.get("/api/products", params=sort("price_desc"))) == [dear, mid, tie, cheap]
    assert ids(await shop.get("/api/products", params=sort("name_asc"))) == [dear, cheap, mid, tie]
    # Sorting happens before paging.
    paged = await shop.get("/api/products", params={"sort_by": "price_asc", "skip": 1, "limit": 2})
    assert ids(paged) == [mid, tie]
    prices = [p["price"] for p in (await shop.get("/api/products", params=sort("price_asc"))).json()]
    assert prices == [5.5, 20.0, 20.0, 120.0]


async def test_sort_by_price_compares_numbers_not_text(shop: httpx.AsyncClient, admin: Account) -> None:
    nine = (await builders.product(shop, admin, price="9.00"))["id"]
    hundred = (await builders.product(shop, admin, price="100.00"))["id"]
    ten = (await builders.product(shop, admin, price="10.00"))["id"]
    assert ids(await shop.get("/api/products", params={"sort_by": "price_asc"})) == [nine, ten, hundred]


async def test_sort_by_newest_follows_creation_time(
    shop: httpx.AsyncClient, admin: Account, shop_database: Database
) -> None:
    made = await make_products(shop, admin, 3)
    # Creation times that run against the ids, so the order can only come from created_at.
    base = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = {made[0]: base + timedelta(days=2), made[1]: base, made[2]: base + timedelta(days=1)}
    async with shop_database.engine.begin() as connection:
        for product_id, stamp in stamps.items():
            await connection.execute(update(Product).where(Product.id == product_id).values(created_at=stamp))
    newest = await shop.get("/api/products", params={"sort_by": "newest"})
    assert ids(newest) == [made[0], made[2], made[1]]


async def test_an_unknown_sort_is_422_with_fastapis_list(shop: httpx.AsyncClient) -> None:
    for value in ("price", "PRICE_ASC", "name_desc", ""):
        response = await shop.get("/api/products", params={"sort_by": value})
        assert response.status_code == 422, value
        detail = response.json()["detail"]
        assert isinstance(detail, list)
        assert detail[0]["loc"] == ["query", "sort_by"]
        assert detail[0]["msg"]


# --- one product ---------------------------------------------------------------------------


async def test_detail_has_description_stock_and_the_nested_category(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    created = await shop.post(
        "/api/categories", json={"name": "Apparel", "description": "Things to wear"}, headers=admin.headers
    )
    assert created.status_code == 201
    category = created.json()
    product = await builders.product(
        shop,
        admin,
        name="TiDB T-Shirt",
        description="Soft cotton",
        price="19.99",
        stock=7,
        image_url="/static/shirt.png",
        category_id=category["id"],
    )
    response = await shop.get(f"/api/products/{product['id']}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == DETAIL_FIELDS
    assert body["id"] == product["id"]
    assert body["name"] == "TiDB T-Shirt"
    assert body["description"] == "Soft cotton"
    assert body["price"] == 19.99
    assert body["stock"] == 7
    assert body["image_url"] == "/static/shirt.png"
    assert body["category_id"] == category["id"]
    assert body["category"] == {"id": category["id"], "name": "Apparel", "description": "Things to wear"}
    for stamp in ("created_at", "updated_at"):
        assert datetime.fromisoformat(body[stamp]).tzinfo is not None


async def test_detail_of_an_uncategorised_product_has_category_null(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    product = await builders.product(shop, admin)
    body = (await shop.get(f"/api/products/{product['id']}")).json()
    assert body["category"] is None
    assert body["category_id"] is None
    assert body["description"] is None


async def test_an_unknown_product_is_404(shop: httpx.AsyncClient) -> None:
    response = await shop.get("/api/products/424242")
    assert response.status_code == 404
    assert response.json() == {"detail": "Product not found"}


async def test_a_product_id_outside_the_int_range_is_422(shop: httpx.AsyncClient) -> None:
    for bad in (str(2**31), str(2**63), "0", "-1", "abc"):
        response = await shop.get(f"/api/products/{bad}")
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["path", "product_id"], bad
    # The largest id that fits is merely absent.
    assert (await shop.get(f"/api/products/{2**31 - 1}")).status_code == 404


# --- money ---------------------------------------------------------------------------------


async def test_price_is_a_json_number_that_round_trips_exactly(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    for sent, expected in (
        ("19.99", 19.99),
        ("0.10", 0.1),
        ("0.01", 0.01),
        ("0", 0),
        ("12345678.99", 12345678.99),
        (4.35, 4.35),
        (7, 7),
    ):
        product = await builders.product(shop, admin, price=sent)
        assert product["price"] == expected, sent
        detail = await shop.get(f"/api/products/{product['id']}")
        assert '"price":' + repr(float(expected)) in detail.text.replace(" ", ""), sent
        assert detail.json()["price"] == expected
        listed = await shop.get("/api/products", params={"skip": 0, "limit": 100})
        assert {p["id"]: p["price"] for p in listed.json()}[product["id"]] == expected


async def test_a_price_with_three_decimals_negative_or_too_large_is_422(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    for price in ("19.999", 19.999, "-0.01", -5, "123456789.00", "abc", None):
        response = await shop.post(
            "/api/products", json={"name": "Bad", "price": price}, headers=admin.headers
        )
        assert response.status_code == 422, price
        assert response.json()["detail"][0]["loc"] == ["body", "price"], price
    assert (await shop.get("/api/products")).json() == []


# --- admin writes --------------------------------------------------------------------------


async def test_admin_creates_a_product_with_201_and_it_is_listed(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    category = await builders.category(shop, admin, "Books")
    response = await shop.post(
        "/api/products",
        json={
            "name": "HTAP Handbook",
            "description": "All about HTAP",
            "price": "35.50",
            "stock": 12,
            "image_url": "https://img.example.com/htap.png",
            "category_id": category["id"],
        },
        headers=admin.headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == DETAIL_FIELDS
    assert body["name"] == "HTAP Handbook"
    assert body["price"] == 35.5
    assert body["stock"] == 12
    assert body["category"] == {"id": category["id"], "name": "Books", "description": None}
    assert (await shop.get(f"/api/products/{body['id']}")).json() == body
    assert ids(await shop.get("/api/products")) == [body["id"]]


async def test_stock_defaults_to_zero_and_must_not_be_negative(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    response = await shop.post(
        "/api/products", json={"name": "Plain", "price": "1.00"}, headers=admin.headers
    )
    assert response.status_code == 201
    assert response.json()["stock"] == 0
    negative = await shop.post(
        "/api/products", json={"name": "Neg", "price": "1.00", "stock": -1}, headers=admin.headers
    )
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["body", "stock"]


async def test_create_refuses_a_blank_name_or_a_nul_character(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    for body, field in (
        ({"name": "", "price": "1.00"}, "name"),
        ({"name": "   ", "price": "1.00"}, "name"),
        ({"price": "1.00"}, "name"),
        ({"name": "Nul\x00name", "price": "1.00"}, "name"),
        ({"name": "Ok", "price": "1.00", "description": "bad\x00text"}, "description"),
        ({"name": "Ok", "price": "1.00", "image_url": "javascript:alert(1)"}, "image_url"),
    ):
        response = await shop.post("/api/products", json=body, headers=admin.headers)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"] == ["body", field], body
    assert (await shop.get("/api/products")).json() == []


async def test_create_with_an_unknown_category_is_404(shop: httpx.AsyncClient, admin: Account) -> None:
    response = await shop.post(
        "/api/products",
        json={"name": "Orphan", "price": "1.00", "category_id": 999999},
        headers=admin.headers,
    )
    assert response.status_code == 404
    assert "999999" in response.json()["detail"]
    assert (await shop.get("/api/products")).json() == []


async def test_admin_update_changes_only_the_fields_sent(shop: httpx.AsyncClient, admin: Account) -> None:
    books = await builders.category(shop, admin, "Books")
    toys = await builders.category(shop, admin, "Toys")
    product = await builders.product(
        shop, admin, name="Old", description="Keep me", price="10.00", stock=5, category_id=books["id"]
    )
    path = f"/api/products/{product['id']}"

    response = await shop.put(path, json={"price": "12.34"}, headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["price"] == 12.34
    assert (body["name"], body["description"], body["stock"], body["category_id"]) == (
        "Old",
        "Keep me",
        5,
        books["id"],
    )

    response = await shop.put(
        path, json={"name": "New", "stock": 0, "category_id": toys["id"]}, headers=admin.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["price"], body["stock"]) == ("New", 12.34, 0)
    assert body["category"] == {"id": toys["id"], "name": "Toys", "description": None}
    assert (await shop.get(path)).json() == body

    # An explicit null takes the product out of its category.
    response = await shop.put(path, json={"category_id": None}, headers=admin.headers)
    assert response.status_code == 200
    assert (response.json()["category_id"], response.json()["category"]) == (None, None)
    assert (await shop.get(path)).json()["category"] is None


async def test_update_refuses_bad_values_and_unknown_targets(shop: httpx.AsyncClient, admin: Account) -> None:
    product = await builders.product(shop, admin, name="Steady", price="10.00")
    path = f"/api/products/{product['id']}"
    for body in (
        {"price": "1.001"},
        {"price": "-1"},
        {"stock": -3},
        {"name": ""},
        {"name": None},
        {"price": None},
        {"stock": None},
    ):
        response = await shop.put(path, json=body, headers=admin.headers)
        assert response.status_code == 422, body
    unknown_category = await shop.put(path, json={"category_id": 999999}, headers=admin.headers)
    assert unknown_category.status_code == 404
    missing = await shop.put("/api/products/999999", json={"price": "1.00"}, headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Product not found"}
    after = (await shop.get(path)).json()
    assert (after["name"], after["price"], after["category_id"]) == ("Steady", 10.0, None)


async def test_admin_deletes_with_204_then_the_product_is_gone(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    keep, drop = await make_products(shop, admin, 2)
    response = await shop.delete(f"/api/products/{drop}", headers=admin.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (await shop.get(f"/api/products/{drop}")).status_code == 404
    assert ids(await shop.get("/api/products")) == [keep]
    again = await shop.delete(f"/api/products/{drop}", headers=admin.headers)
    assert again.status_code == 404
    assert again.json() == {"detail": "Product not found"}


async def test_writes_need_an_admin(shop: httpx.AsyncClient, admin: Account, buyer: Account) -> None:
    product = await builders.product(shop, admin, name="Guarded", price="10.00")
    path = f"/api/products/{product['id']}"
    new = {"name": "Sneaky", "price": "1.00"}
    for headers, status in (({}, 401), (buyer.headers, 403)):
        create = await shop.post("/api/products", json=new, headers=headers)
        change = await shop.put(path, json={"price": "0.01"}, headers=headers)
        remove = await shop.delete(path, headers=headers)
        for response in (create, change, remove):
            assert response.status_code == status, response.request.method
            assert isinstance(response.json()["detail"], str)
        if status == 401:
            assert create.headers["www-authenticate"] == "Bearer"
    after = (await shop.get(path)).json()
    assert (after["name"], after["price"]) == ("Guarded", 10.0)
    assert ids(await shop.get("/api/products")) == [product["id"]]


async def test_deleting_an_ordered_product_archives_it_but_keeps_the_order_history(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    product = await builders.product(shop, admin, name="Limited Mug", price="8.25", stock=10)
    other = await builders.product(shop, admin)
    order_id = await paid_order(shop, buyer, (product["id"], 2))
    assert [b["id"] for b in (await shop.get("/api/products/bestsellers")).json()] == [product["id"]]

    response = await shop.delete(f"/api/products/{product['id']}", headers=admin.headers)
    assert response.status_code == 204
    assert (await shop.get(f"/api/products/{product['id']}")).json() == {"detail": "Product not found"}
    assert ids(await shop.get("/api/products")) == [other["id"]]
    assert (await shop.get("/api/products/bestsellers")).json() == []
    # Archived means gone for the admin too: no update, no second delete.
    assert (
        await shop.put(f"/api/products/{product['id']}", json={"stock": 5}, headers=admin.headers)
    ).status_code == 404
    assert (await shop.delete(f"/api/products/{product['id']}", headers=admin.headers)).status_code == 404
    # Nobody can buy it any more.
    assert (await builders.order(shop, buyer, (product["id"], 1))).status_code == 404

    order = await shop.get(f"/api/orders/{order_id}", headers=buyer.headers)
    assert order.status_code == 200
    [item] = order.json()["items"]
    assert item["product_id"] == product["id"]
    assert item["product_name"] == "Limited Mug"
    assert item["quantity"] == 2
    assert item["price_at_purchase"] == 8.25
    assert order.json()["total_amount"] == 16.5


# --- bestsellers ---------------------------------------------------------------------------


async def test_bestsellers_rank_by_units_sold_in_paid_orders(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    made = await make_products(shop, admin, 7)
    # One paid order with 1..6 units of the first six products; the seventh never sells.
    await paid_order(shop, buyer, *((pid, qty) for qty, pid in enumerate(made[:6], start=1)))
    response = await shop.get("/api/products/bestsellers")
    assert response.status_code == 200
    body = response.json()
    assert [b["id"] for b in body] == [made[5], made[4], made[3], made[2], made[1]]  # default limit 5
    assert [b["total_sold"] for b in body] == [6, 5, 4, 3, 2]
    assert set(body[0]) == LIST_FIELDS | {"total_sold"}
    assert body[0]["price"] == 10.0
    assert body[0]["stock"] == 50 - 6

    everything = await shop.get("/api/products/bestsellers", params={"limit": 100})
    assert [(b["id"], b["total_sold"]) for b in everything.json()] == [
        (pid, qty) for qty, pid in reversed(list(enumerate(made[:6], start=1)))
    ]
    assert ids(await shop.get("/api/products/bestsellers", params={"limit": 1})) == [made[5]]


async def test_bestsellers_add_up_orders_and_count_only_paid_shipped_and_delivered(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    a, b, c, d = await make_products(shop, admin, 4)
    # a: 2 paid + 2 shipped + 1 delivered = 5
    await paid_order(shop, buyer, (a, 2))
    shipped = await paid_order(shop, buyer, (a, 2), (b, 1))
    assert (await shop.post(f"/api/orders/{shipped}/ship", headers=admin.headers)).status_code == 200
    delivered = await paid_order(shop, buyer, (a, 1))
    assert (await shop.post(f"/api/orders/{delivered}/ship", headers=admin.headers)).status_code == 200
    assert (await shop.post(f"/api/orders/{delivered}/deliver", headers=admin.headers)).status_code == 200
    # b: 1 shipped; 9 units pending payment do not count.
    pending = await builders.order(shop, buyer, (b, 9), (c, 9))
    assert pending.status_code == 201
    # c and d: a paid order that was then cancelled and a pending one that was cancelled.
    refunded = await paid_order(shop, buyer, (c, 20), (d, 20))
    assert (await shop.post(f"/api/orders/{refunded}/cancel", headers=buyer.headers)).status_code == 200
    dropped = await builders.order(shop, buyer, (d, 30))
    assert dropped.status_code == 201
    cancel = await shop.post(f"/api/orders/{dropped.json()['id']}/cancel", headers=buyer.headers)
    assert cancel.status_code == 200

    body = (await shop.get("/api/products/bestsellers")).json()
    assert [(x["id"], x["total_sold"]) for x in body] == [(a, 5), (b, 1)]

    # Paying the pending order brings its units in.
    assert (
        await shop.post(f"/api/orders/{pending.json()['id']}/pay", headers=buyer.headers)
    ).status_code == 200
    body = (await shop.get("/api/products/bestsellers")).json()
    assert [(x["id"], x["total_sold"]) for x in body] == [(b, 10), (c, 9), (a, 5)]


async def test_bestsellers_ties_keep_id_order(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    first, second, third = await make_products(shop, admin, 3)
    await paid_order(shop, buyer, (third, 2), (first, 2), (second, 3))
    assert ids(await shop.get("/api/products/bestsellers")) == [second, first, third]


async def test_bestsellers_with_no_sales_is_an_empty_array(shop: httpx.AsyncClient) -> None:
    response = await shop.get("/api/products/bestsellers")
    assert response.status_code == 200
    assert response.json() == []


async def test_bestsellers_limit_out_of_bounds_is_422(shop: httpx.AsyncClient) -> None:
    for limit in (0, -1, 101, "x"):
        response = await shop.get("/api/products/bestsellers", params={"limit": limit})
        assert response.status_code == 422, limit
        assert response.json()["detail"][0]["loc"] == ["query", "limit"]
    assert (await shop.get("/api/products/bestsellers", params={"limit": 100})).status_code == 200
