"""Builders for shop test data, through the API wherever the API can make it."""

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from keel.apps.shop.models import User
from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.databases import promote_to_admin

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"
ADDRESS = {"recipient": "Mei Lin", "line1": "1 Xinyi Rd", "city": "Taipei", "country": "TW"}


@dataclass
class Account:
    id: int
    username: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    n = next(_counter)
    body = {"username": f"user{n}", "email": f"user{n}@example.com", "password": PASSWORD, **overrides}
    return await client.post("/api/auth/register", json=body)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def account(
    client: httpx.AsyncClient, database: Database | None = None, *, admin: bool = False
) -> Account:
    created = await register(client)
    assert created.status_code == 201, created.text
    user = created.json()
    if admin:
        assert database is not None
        await promote_to_admin(database, User, user["id"])
    tokens = (await login(client, user["email"])).json()
    return Account(
        user["id"], user["username"], user["email"], tokens["access_token"], tokens["refresh_token"]
    )


async def category(client: httpx.AsyncClient, admin: Account, name: str | None = None) -> dict[str, Any]:
    response = await client.post(
        "/api/categories", json={"name": name or f"Category {next(_counter)}"}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def product(client: httpx.AsyncClient, admin: Account, **overrides: Any) -> dict[str, Any]:
    body = {"name": f"Product {next(_counter)}", "price": "10.00", "stock": 50, **overrides}
    response = await client.post("/api/products", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def order(client: httpx.AsyncClient, buyer: Account, *lines: tuple[int, int]) -> httpx.Response:
    body = {
        "items": [{"product_id": pid, "quantity": qty} for pid, qty in lines],
        "shipping_address": ADDRESS,
        "payment_method": "card",
    }
    return await client.post("/api/orders", json=body, headers=buyer.headers)


@asynccontextmanager
async def shop_with(
    database: Database, settings: Settings, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the shop served with these settings changed (KEEL_SHOP_... as the fields are
    named), on the `shop` fixture's database; that fixture empties the tables afterwards."""
    server = build_server(settings.model_copy(update=overrides), only="shop", databases={"shop": database})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://shop.test"
    ) as client:
        yield client
