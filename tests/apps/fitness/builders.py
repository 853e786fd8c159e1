"""Builders for fitness test data, through the API wherever the API can make it."""

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from keel.apps.fitness.models import User
from keel.core.db import Database
from tests.databases import promote_to_admin

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"


@dataclass
class Athlete:
    id: int
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    n = next(_counter)
    body = {
        "email": f"athlete{n}@example.com",
        "password": PASSWORD,
        "display_name": f"Athlete {n}",
        **overrides,
    }
    return await client.post("/api/v1/auth/register", json=body)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def athlete(
    client: httpx.AsyncClient, database: Database | None = None, *, admin: bool = False
) -> Athlete:
    created = await register(client)
    assert created.status_code == 201, created.text
    body = created.json()
    if admin:
        # The token needs no refresh: the admin flag is read from the user's row on each request.
        assert database is not None
        await promote_to_admin(database, User, body["user"]["id"])
    return Athlete(body["user"]["id"], body["user"]["email"], body["access_token"], body["refresh_token"])
