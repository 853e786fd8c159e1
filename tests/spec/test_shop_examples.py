"""Spec 003's examples as a client written from the document would send them (issue 13 item 8).

The document shows its bodies as model signatures, not JSON literals; each body below is the
signature of section 4 filled in, with the document's own values where it gives any (the seed
account `user@example.com` / `password123` and the products "TiDB T-Shirt" and "HTAP 手冊" of
section 6). Each answer is checked for the fields and JSON types the signature names, and each
error case the document lists for its status code.

Where the document is silent, keel's choice is used and said so:
- ShippingAddressModel has no fields in the document: the address is keel's (recipient,
  line1, city, country required).
- The document has no CategoryCreate or ProductCreate (its products are seeded, section 6):
  the catalogue is made through keel's admin endpoints.
"""

from datetime import datetime

import httpx
import pytest

from keel.core.db import Database
from tests.apps.shop import builders
from tests.apps.shop.builders import Account

# 4.1 POST /register: UserCreate(username: str, email: EmailStr, password: str), with the
# seed account of section 6.
USER_CREATE = {"username": "user", "email": "user@example.com", "password": "password123"}
# 4.1 POST /login: UserLogin(email: EmailStr, password: str)
USER_LOGIN = {"email": "user@example.com", "password": "password123"}
# 4.2 PUT /me/profile: UserProfileUpdate(username: Optional[str] = None, ...)
PROFILE_UPDATE = {"username": "tidb_fan"}
# ShippingAddressModel: keel's fields (the document names the model only).
ADDRESS = {"recipient": "Mei Lin", "line1": "1 Xinyi Rd", "city": "Taipei", "country": "TW"}


def order_create(*lines: tuple[int, int]) -> dict:
    # 4.4 POST /: OrderCreate(items: List[OrderItemCreate(product_id: int, quantity: int)],
    # shipping_address: ShippingAddressModel, payment_method: str)
    return {
        "items": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in lines],
        "shipping_address": ADDRESS,
        "payment_method": "credit_card",
    }


@pytest.fixture
async def admin(shop: httpx.AsyncClient, shop_database: Database) -> Account:
    """Makes the catalogue, which the document seeds (section 6)."""
    return await builders.account(shop, shop_database, admin=True)


def _is_datetime(value: object) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value) is not None


def _is_error(response: httpx.Response, status: int) -> bool:
    # ErrorDetail(detail: str)
    return response.status_code == status and isinstance(response.json()["detail"], str)


async def _signed_in(shop: httpx.AsyncClient) -> dict[str, str]:
    assert (await shop.post("/api/auth/register", json=USER_CREATE)).status_code == 201
    token = (await shop.post("/api/auth/login", json=USER_LOGIN)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def _seeded(shop: httpx.AsyncClient, admin: Account) -> tuple[dict, dict]:
    # Section 6's products, stocked as a seed script would.
    shirt = await builders.product(shop, admin, name="TiDB T-Shirt", price="19.99", stock=10)
    book = await builders.product(
        shop, admin, name="HTAP 手冊", price="9.50", stock=2, image_url="https://placehold.co/300"
    )
    return shirt, book


async def test_register_answers_user_out_and_message(shop: httpx.AsyncClient) -> None:
    response = await shop.post("/api/auth/register", json=USER_CREATE)
    assert response.status_code == 201, response.text
    body = response.json()
    # UserOut(id: int, username: str, email: EmailStr) & Message(message: str)
    assert isinstance(body["id"], int)
    assert (body["username"], body["email"]) == ("user", "user@example.com")
    assert isinstance(body["message"], str)
    # 400/409: the email is taken.
    again = await shop.post("/api/auth/register", json={**USER_CREATE, "username": "other"})
    assert _is_error(again, 409), again.text


async def test_login_answers_token_and_refuses_a_wrong_password_with_401(shop: httpx.AsyncClient) -> None:
    await shop.post("/api/auth/register", json=USER_CREATE)
    response = await shop.post("/api/auth/login", json=USER_LOGIN)
    assert response.status_code == 200, response.text
    body = response.json()
    # Token(access_token: str, token_type: str, user: UserOut, message: str)
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert body["token_type"].lower() == "bearer"
    assert {"id", "username", "email"} <= body["user"].keys()
    assert body["user"]["email"] == "user@example.com"
    assert isinstance(body["message"], str)
    wrong = await shop.post("/api/auth/login", json={**USER_LOGIN, "password": "password124"})
    assert _is_error(wrong, 401), wrong.text


async def test_me_answers_user_out_for_the_bearer_and_401_without(shop: httpx.AsyncClient) -> None:
    headers = await _signed_in(shop)
    response = await shop.get("/api/auth/me", headers=headers)
    assert response.status_code == 200, response.text
    assert {"id", "username", "email"} <= response.json().keys()
    assert _is_error(await shop.get("/api/auth/me"), 401)


async def test_profile_reads_and_updates_as_user_profile(shop: httpx.AsyncClient) -> None:
    headers = await _signed_in(shop)
    read = await shop.get("/api/users/me/profile", headers=headers)
    assert read.status_code == 200, read.text
    # UserProfile(id: int, username: str, email: EmailStr, created_at: datetime, ...)
    assert isinstance(read.json()["id"], int) and _is_datetime(read.json()["created_at"])
    updated = await shop.put("/api/users/me/profile", json=PROFILE_UPDATE, headers=headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["username"] == "tidb_fan"
    assert _is_error(await shop.put("/api/users/me/profile", json=PROFILE_UPDATE), 401)


async def test_the_catalogue_answers_product_out_and_product_detail_out(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    shirt, book = await _seeded(shop, admin)
    listed = await shop.get("/api/products", params={"skip": 0, "limit": 10, "sort_by": "price_asc"})
    assert listed.status_code == 200, listed.text
    # List[ProductOut(id: int, name: str, price: float, image_url: Optional[str], ...)]
    assert [(p["name"], p["price"], p["image_url"]) for p in listed.json()] == [
        ("HTAP 手冊", 9.5, "https://placehold.co/300"),
        ("TiDB T-Shirt", 19.99, None),
    ]
    detail = await shop.get(f"/api/products/{shirt['id']}")
    assert detail.status_code == 200, detail.text
    # ProductDetailOut(id, name, description: Optional[str], price: float, stock: int,
    # image_url: Optional[str], category: Optional[CategoryOut], ...)
    body = detail.json()
    assert {"id", "name", "description", "price", "stock", "image_url", "category"} <= body.keys()
    assert (body["stock"], body["category"]) == (10, None)
    # ErrorDetail(detail: "Product not found")
    missing = await shop.get(f"/api/products/{book['id'] + 1000}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Product not found"}


async def test_checkout_answers_order_out_and_the_documented_errors(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    shirt, book = await _seeded(shop, admin)
    headers = await _signed_in(shop)
    created = await shop.post(
        "/api/orders", json=order_create((shirt["id"], 2), (book["id"], 1)), headers=headers
    )
    assert created.status_code == 201, created.text
    # OrderOut(id: int, user_id: int, total_amount: float, status: str, created_at: datetime,
    # items: List[OrderItemOut], ...)
    order = created.json()
    assert isinstance(order["id"], int) and isinstance(order["user_id"], int)
    assert order["total_amount"] == 49.48
    assert isinstance(order["status"], str) and _is_datetime(order["created_at"])
    assert sorted((item["product_id"], item["quantity"]) for item in order["items"]) == sorted(
        [(shirt["id"], 2), (book["id"], 1)]
    )
    # 400 "Insufficient stock": one HTAP 手冊 is left.
    short = await shop.post("/api/orders", json=order_create((book["id"], 2)), headers=headers)
    assert _is_error(short, 400), short.text
    assert "insufficient stock" in short.json()["detail"].lower()
    # 404 "Product not found"
    unknown = await shop.post("/api/orders", json=order_create((book["id"] + 1000, 1)), headers=headers)
    assert _is_error(unknown, 404), unknown.text
    assert "not found" in unknown.json()["detail"].lower()
    # 401: every order endpoint needs the token.
    assert _is_error(await shop.post("/api/orders", json=order_create((shirt["id"], 1))), 401)


async def test_the_order_history_answers_summaries_and_the_order(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    shirt, _book = await _seeded(shop, admin)
    headers = await _signed_in(shop)
    order = (await shop.post("/api/orders", json=order_create((shirt["id"], 3)), headers=headers)).json()
    listed = await shop.get("/api/orders", params={"skip": 0, "limit": 10}, headers=headers)
    assert listed.status_code == 200, listed.text
    # List[OrderSummaryOut(id: int, total_amount: float, status: str, created_at: datetime,
    # item_count: int)]
    [summary] = listed.json()
    assert (summary["id"], summary["total_amount"], summary["item_count"]) == (order["id"], 59.97, 3)
    assert isinstance(summary["status"], str) and _is_datetime(summary["created_at"])
    one = await shop.get(f"/api/orders/{order['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["items"][0]["quantity"] == 3
    # 401/403/404: another user's order is 404, no token is 401.
    stranger = await builders.account(shop)
    assert _is_error(await shop.get(f"/api/orders/{order['id']}", headers=stranger.headers), 404)
    assert _is_error(await shop.get(f"/api/orders/{order['id']}"), 401)


async def test_bestsellers_answer_product_out_by_units_sold(shop: httpx.AsyncClient, admin: Account) -> None:
    shirt, book = await _seeded(shop, admin)
    headers = await _signed_in(shop)
    for lines in ([(shirt["id"], 1), (book["id"], 2)], [(shirt["id"], 2)]):
        order = (await shop.post("/api/orders", json=order_create(*lines), headers=headers)).json()
        assert (await shop.post(f"/api/orders/{order['id']}/pay", headers=headers)).status_code == 200
    response = await shop.get("/api/products/bestsellers", params={"limit": 5})
    assert response.status_code == 200, response.text
    assert [(p["name"], p["price"]) for p in response.json()] == [("TiDB T-Shirt", 19.99), ("HTAP 手冊", 9.5)]


async def test_logout_answers_a_message(shop: httpx.AsyncClient) -> None:
    headers = await _signed_in(shop)
    response = await shop.post("/api/auth/logout", headers=headers)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["message"], str)
