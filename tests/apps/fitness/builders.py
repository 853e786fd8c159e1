"""Builders for fitness test data, through the API wherever the API can make it."""

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import update

from keel.apps.fitness.models import User
from keel.core.db import Database

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
        # No API makes an admin (only `keel seed` does), so the builder promotes one directly
        # and signs in again for a token that sees the change.
        assert database is not None
        async with database.engine.begin() as connection:
            await connection.execute(update(User).where(User.id == body["user"]["id"]).values(is_admin=True))
    return Athlete(body["user"]["id"], body["user"]["email"], body["access_token"], body["refresh_token"])
