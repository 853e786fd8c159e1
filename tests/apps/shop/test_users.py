from datetime import datetime

import httpx

from tests.apps.shop import builders
from tests.apps.shop.builders import ADDRESS, Account

PROFILE = "/api/users/me/profile"
PROFILE_FIELDS = {
    "id",
    "username",
    "email",
    "full_name",
    "phone",
    "default_shipping_address",
    "is_admin",
    "created_at",
    "updated_at",
}
FULL_ADDRESS = {"phone": None, "line2": None, "postal_code": None, **ADDRESS}


async def profile(shop: httpx.AsyncClient, account: Account) -> dict:
    response = await shop.get(PROFILE, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_new_users_profile(shop: httpx.AsyncClient, buyer: Account) -> None:
    response = await shop.get(PROFILE, headers=buyer.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROFILE_FIELDS
    assert {k: body[k] for k in PROFILE_FIELDS - {"created_at", "updated_at"}} == {
        "id": buyer.id,
        "username": buyer.username,
        "email": buyer.email,
        "full_name": None,
        "phone": None,
        "default_shipping_address": None,
        "is_admin": False,
    }
    created = datetime.fromisoformat(body["created_at"])
    updated = datetime.fromisoformat(body["updated_at"])
    assert created.tzinfo is not None and updated.tzinfo is not None
    assert updated >= created
    assert "password" not in response.text


async def test_an_admins_profile_says_so(shop: httpx.AsyncClient, admin: Account) -> None:
    assert (await profile(shop, admin))["is_admin"] is True


async def test_the_profile_needs_a_token(shop: httpx.AsyncClient) -> None:
    for response in (
        await shop.get(PROFILE),
        await shop.put(PROFILE, json={"full_name": "Nobody"}),
        await shop.get(PROFILE, headers={"Authorization": "Bearer not.a.token"}),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert isinstance(response.json()["detail"], str)


async def test_update_changes_the_fields_and_the_next_reads_show_it(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    before = await profile(shop, buyer)
    response = await shop.put(
        PROFILE,
        json={
            "username": "mei.lin",
            "full_name": "Mei Lin",
            "phone": "+886 912-345-678",
            "default_shipping_address": ADDRESS,
        },
        headers=buyer.headers,
    )
    assert response.status_code == 200
    body = response.json()
    expected = {
        **before,
        "username": "mei.lin",
        "full_name": "Mei Lin",
        "phone": "+886 912-345-678",
        "default_shipping_address": FULL_ADDRESS,
        "updated_at": body["updated_at"],
    }
    assert body == expected
    assert datetime.fromisoformat(body["updated_at"]) >= datetime.fromisoformat(before["updated_at"])
    assert await profile(shop, buyer) == expected

    me = await shop.get("/api/auth/me", headers=buyer.headers)
    assert me.status_code == 200
    assert me.json() == {"id": buyer.id, "username": "mei.lin", "email": buyer.email, "is_admin": False}


async def test_update_leaves_the_fields_not_sent_alone(shop: httpx.AsyncClient, buyer: Account) -> None:
    first = await shop.put(
        PROFILE,
        json={"full_name": "Mei Lin", "phone": "0912345678", "default_shipping_address": ADDRESS},
        headers=buyer.headers,
    )
    assert first.status_code == 200
    response = await shop.put(PROFILE, json={"phone": "(02) 2345-6789"}, headers=buyer.headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["full_name"], body["phone"]) == (
        buyer.username,
        "Mei Lin",
        "(02) 2345-6789",
    )
    assert body["default_shipping_address"] == FULL_ADDRESS

    # An empty body changes nothing; an explicit null clears an optional field.
    assert (await shop.put(PROFILE, json={}, headers=buyer.headers)).json() == body
    cleared = await shop.put(PROFILE, json={"phone": None, "full_name": None}, headers=buyer.headers)
    assert cleared.status_code == 200
    assert (cleared.json()["phone"], cleared.json()["full_name"]) == (None, None)
    assert cleared.json()["default_shipping_address"] == FULL_ADDRESS
    assert (await profile(shop, buyer))["phone"] is None


async def test_a_username_cannot_be_removed(shop: httpx.AsyncClient, buyer: Account) -> None:
    response = await shop.put(PROFILE, json={"username": None}, headers=buyer.headers)
    assert response.status_code == 422
    assert "username" in response.json()["detail"][0]["msg"]
    assert (await profile(shop, buyer))["username"] == buyer.username


async def test_taking_another_users_username_is_409_whatever_the_case(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    assert (await builders.register(shop, username="Taken")).status_code == 201
    for name in ("Taken", "taken", "TAKEN", "  taken "):
        response = await shop.put(PROFILE, json={"username": name, "full_name": "X"}, headers=buyer.headers)
        assert response.status_code == 409, name
        assert response.json() == {"detail": "Username already taken"}
    after = await profile(shop, buyer)
    assert (after["username"], after["full_name"]) == (buyer.username, None)


async def test_changing_only_the_case_of_ones_own_username_is_allowed(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    response = await shop.put(PROFILE, json={"username": buyer.username.upper()}, headers=buyer.headers)
    assert response.status_code == 200
    assert response.json()["username"] == buyer.username.upper()
    assert (await profile(shop, buyer))["username"] == buyer.username.upper()


async def test_email_and_role_are_not_self_service(shop: httpx.AsyncClient, buyer: Account) -> None:
    before = await profile(shop, buyer)
    for body, field in (
        ({"email": "new@example.com"}, "email"),
        ({"is_admin": True}, "is_admin"),
        ({"full_name": "Sneaky", "is_admin": True}, "is_admin"),
        ({"password": "another-password"}, "password"),
        ({"id": 999}, "id"),
    ):
        response = await shop.put(PROFILE, json=body, headers=buyer.headers)
        assert response.status_code == 422, body
        detail = response.json()["detail"]
        assert isinstance(detail, list)
        assert [(e["loc"], e["type"]) for e in detail] == [(["body", field], "extra_forbidden")], body
    assert await profile(shop, buyer) == before
    # Still an ordinary buyer: admin routes stay closed.
    denied = await shop.post("/api/categories", json={"name": "Mine"}, headers=buyer.headers)
    assert denied.status_code == 403


async def test_malformed_values_are_422_and_change_nothing(shop: httpx.AsyncClient, buyer: Account) -> None:
    before = await profile(shop, buyer)
    for body, loc in (
        ({"phone": "call me"}, ["body", "phone"]),
        ({"phone": "12"}, ["body", "phone"]),
        ({"phone": "+886-912-345-678 ext. 9"}, ["body", "phone"]),
        ({"phone": "1" * 40}, ["body", "phone"]),
        ({"phone": 912345678}, ["body", "phone"]),
        ({"username": "a"}, ["body", "username"]),
        ({"username": "no spaces"}, ["body", "username"]),
        ({"username": "x" * 51}, ["body", "username"]),
        ({"full_name": "x" * 256}, ["body", "full_name"]),
        ({"default_shipping_address": {"recipient": "Mei"}}, ["body", "default_shipping_address", "line1"]),
        ({"default_shipping_address": "1 Xinyi Rd"}, ["body", "default_shipping_address"]),
    ):
        response = await shop.put(PROFILE, json={"full_name": "Changed", **body}, headers=buyer.headers)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"] == loc, body
    assert await profile(shop, buyer) == before


async def test_a_nul_character_anywhere_is_422(shop: httpx.AsyncClient, buyer: Account) -> None:
    before = await profile(shop, buyer)
    for body, loc in (
        ({"full_name": "Mei\x00Lin"}, ["body", "full_name"]),
        ({"username": "mei\x00"}, ["body", "username"]),
        (
            {"default_shipping_address": {**ADDRESS, "city": "Tai\x00pei"}},
            ["body", "default_shipping_address", "city"],
        ),
    ):
        response = await shop.put(PROFILE, json=body, headers=buyer.headers)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"] == loc, body
    assert await profile(shop, buyer) == before


async def test_a_phone_longer_than_its_column_is_422_and_not_stored(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    response = await shop.put(PROFILE, json={"phone": "+" + "1" * 32}, headers=buyer.headers)
    assert response.status_code == 422
    assert (await profile(shop, buyer))["phone"] is None


async def test_an_admin_reads_a_customers_profile(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    updated = await shop.put(
        PROFILE, json={"full_name": "陳小美", "default_shipping_address": ADDRESS}, headers=buyer.headers
    )
    assert updated.status_code == 200, updated.text
    response = await shop.get(f"/api/users/{buyer.id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PROFILE_FIELDS
    assert (body["id"], body["email"], body["full_name"], body["is_admin"]) == (
        buyer.id,
        buyer.email,
        "陳小美",
        False,
    )
    assert body["default_shipping_address"] == FULL_ADDRESS


async def test_only_an_admin_reads_another_users_profile(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    refused = await shop.get(f"/api/users/{other.id}", headers=buyer.headers)
    assert refused.status_code == 403
    assert "detail" in refused.json()
    # Not even one's own: a customer has /me/profile.
    assert (await shop.get(f"/api/users/{buyer.id}", headers=buyer.headers)).status_code == 403
    assert (await shop.get(f"/api/users/{other.id}")).status_code == 401
    missing = await shop.get("/api/users/999999999", headers=admin.headers)
    assert (missing.status_code, missing.json()) == (404, {"detail": "User not found"})
    assert (await shop.get("/api/users/abc", headers=admin.headers)).status_code == 422
