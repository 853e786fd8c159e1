"""GET /api/products?q=: a case-insensitive search in names, with the list's X-Total-Count."""

from typing import Any

import httpx

from tests.apps.shop import builders
from tests.apps.shop.builders import Account


async def names(shop: httpx.AsyncClient, **params: Any) -> tuple[list[str], int]:
    response = await shop.get("/api/products", params=params)
    assert response.status_code == 200, response.text
    return [product["name"] for product in response.json()], int(response.headers["X-Total-Count"])


async def test_q_finds_a_part_of_the_name_in_any_case(shop: httpx.AsyncClient, admin: Account) -> None:
    for name in ("Blue T-Shirt", "red tee", "T-shirt dress", "Mug", "烏龍茶 Tea"):
        await builders.product(shop, admin, name=name)
    assert await names(shop, q="t-SHIRT") == (["Blue T-Shirt", "T-shirt dress"], 2)
    assert await names(shop, q="tee") == (["red tee"], 1)
    assert await names(shop, q="龍茶") == (["烏龍茶 Tea"], 1)
    assert await names(shop, q="nothing like it") == ([], 0)
    assert (await names(shop))[1] == 5


async def test_percent_underscore_and_the_escape_character_are_literal(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    for name in ("100% cotton", "1000 cotton", "snake_case mug", "snakescase mug", "a/b plug", "ab plug"):
        await builders.product(shop, admin, name=name)
    assert await names(shop, q="0%") == (["100% cotton"], 1)
    assert await names(shop, q="e_c") == (["snake_case mug"], 1)
    assert await names(shop, q="a/b") == (["a/b plug"], 1)
    assert await names(shop, q="%") == (["100% cotton"], 1)


async def test_q_combines_with_category_sort_and_paging(shop: httpx.AsyncClient, admin: Account) -> None:
    shirts = await builders.category(shop, admin, "Shirts")
    for name, price in (("Shirt C", "30.00"), ("Shirt A", "10.00"), ("Shirt B", "20.00")):
        await builders.product(shop, admin, name=name, price=price, category_id=shirts["id"])
    await builders.product(shop, admin, name="Shirt box")
    query = {"q": "shirt", "category": "shirts", "sort_by": "price_desc"}
    assert await names(shop, **query) == (["Shirt C", "Shirt B", "Shirt A"], 3)
    pages = [await names(shop, **query, skip=skip, limit=2) for skip in (0, 2, 4)]
    assert pages == [(["Shirt C", "Shirt B"], 3), (["Shirt A"], 3), ([], 3)]
    assert await names(shop, q="shirt", skip=1, limit=10) == (["Shirt A", "Shirt B", "Shirt box"], 4)


async def test_archived_products_are_not_found_or_counted(shop: httpx.AsyncClient, admin: Account) -> None:
    kept = await builders.product(shop, admin, name="Lamp one")
    gone = await builders.product(shop, admin, name="Lamp two")
    buyer = await builders.account(shop)
    assert (await builders.order(shop, buyer, (gone["id"], 1))).status_code == 201
    assert (await shop.delete(f"/api/products/{gone['id']}", headers=admin.headers)).status_code == 204
    assert await names(shop, q="lamp") == ([kept["name"]], 1)


async def test_the_categories_list_answers_its_total(shop: httpx.AsyncClient, admin: Account) -> None:
    for name in ("Books", "Mugs"):
        await builders.category(shop, admin, name)
    response = await shop.get("/api/categories")
    assert [category["name"] for category in response.json()] == ["Books", "Mugs"]
    assert response.headers["X-Total-Count"] == "2"
