"""Builders for queue test data, through the API."""

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"


@dataclass
class Account:
    id: str
    email: str
    name: str
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    n = next(_counter)
    body = {"email": f"person{n}@example.com", "password": PASSWORD, "name": f"Person {n}", **overrides}
    return await client.post("/auth/register", json=body)


async def account(client: httpx.AsyncClient, **overrides: Any) -> Account:
    created = await register(client, **overrides)
    assert created.status_code == 201, created.text
    body = created.json()
    user = body["user"]
    return Account(user["id"], user["email"], user["name"], body["token"], body["refresh_token"])


async def store(client: httpx.AsyncClient, owner: Account, **overrides: Any) -> str:
    n = next(_counter)
    body = {
        "name": f"Store {n}",
        "address": f"{n} Main Street",
        "contact_email": f"store{n}@example.com",
        **overrides,
    }
    created = await client.post("/stores", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def book(
    client: httpx.AsyncClient, customer: Account, store_id: str, notes: str | None = None
) -> httpx.Response:
    return await client.post(
        "/bookings", json={"store_id": store_id, "notes": notes}, headers=customer.headers
    )


async def booking(client: httpx.AsyncClient, customer: Account, store_id: str) -> dict[str, Any]:
    response = await book(client, customer, store_id)
    assert response.status_code == 201, response.text
    return response.json()


async def set_status(
    client: httpx.AsyncClient, owner: Account, booking_id: str, status: str
) -> httpx.Response:
    return await client.put(f"/bookings/{booking_id}/status", json={"status": status}, headers=owner.headers)
