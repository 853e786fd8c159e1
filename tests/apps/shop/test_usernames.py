"""Usernames in any script: letters, marks and digits of every script and `_.-`, stored NFKC,
one name whatever its case or width."""

import httpx
import pytest

from tests.apps.shop import builders
from tests.apps.shop.builders import Account

PROFILE = "/api/users/me/profile"


@pytest.mark.parametrize("name", ["小明", "張小明", "Mei.Lin", "山田_太郎", "김민준", "राहुल", "Ольга-1"])
async def test_a_name_in_any_script_registers_and_signs_in(shop: httpx.AsyncClient, name: str) -> None:
    created = await builders.register(shop, username=name, email="who@example.com")
    assert created.status_code == 201, created.text
    assert created.json()["username"] == name
    signed_in = await builders.login(shop, "who@example.com")
    assert signed_in.status_code == 200
    token = signed_in.json()["access_token"]
    me = await shop.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == name


async def test_a_name_is_stored_nfkc(shop: httpx.AsyncClient) -> None:
    # Fullwidth letters and an ideographic space at the end: stored as "Mei" plain.
    created = await builders.register(shop, username="Ｍｅｉ\u3000")
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "Mei"


@pytest.mark.parametrize("second", ["mei", "MEI", "Ｍｅｉ", "ｍｅｉ", " mei "])
async def test_one_name_whatever_its_case_or_width_is_409(shop: httpx.AsyncClient, second: str) -> None:
    assert (await builders.register(shop, username="Mei")).status_code == 201
    again = await builders.register(shop, username=second)
    assert again.status_code == 409
    assert again.json() == {"detail": "Username already taken"}


async def test_a_greek_name_is_one_name_in_either_case(shop: httpx.AsyncClient) -> None:
    assert (await builders.register(shop, username="Σοφία")).status_code == 201
    assert (await builders.register(shop, username="ΣΟΦΊΑ")).status_code == 409


async def test_a_profile_update_to_another_users_name_in_any_case_or_width_is_409(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    for taken in ("張小明", "Mei"):
        assert (await builders.register(shop, username=taken)).status_code == 201
    for name in ("張小明", "ｍｅｉ", "MEI"):
        response = await shop.put(PROFILE, json={"username": name}, headers=buyer.headers)
        assert response.status_code == 409, name
        assert response.json() == {"detail": "Username already taken"}
    assert (await shop.get(PROFILE, headers=buyer.headers)).json()["username"] == buyer.username


async def test_renaming_oneself_in_another_script_and_width_works(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    renamed = await shop.put(PROFILE, json={"username": "山田_太郎"}, headers=buyer.headers)
    assert renamed.status_code == 200
    assert renamed.json()["username"] == "山田_太郎"
    # Another spelling of one's own name is no clash with oneself.
    wide = await shop.put(PROFILE, json={"username": "山田＿太郎"}, headers=buyer.headers)
    assert wide.status_code == 200
    assert wide.json()["username"] == "山田_太郎"
    # The old name is free for someone else.
    assert (await builders.register(shop, username=buyer.username)).status_code == 201


@pytest.mark.parametrize(
    "name",
    # The limits (2 to 50) count the stored form: "㍿" is "株式会社" in NFKC.
    ["Mei Lin", "張 小明", "mei😀", "😀😀😀", "mei!", "a\u200db\u200dc", "a", "張", "x" * 51, "㍿" * 13],
)
async def test_spaces_emoji_punctuation_and_lengths_are_422(shop: httpx.AsyncClient, name: str) -> None:
    response = await builders.register(shop, username=name)
    assert response.status_code == 422, name
    assert response.json()["detail"][0]["loc"] == ["body", "username"]
    # Also as a new name in the profile.
    buyer = await builders.account(shop)
    update = await shop.put(PROFILE, json={"username": name}, headers=buyer.headers)
    assert update.status_code == 422, name
