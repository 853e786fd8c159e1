"""Builders for coach test data, through the API."""

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"
DAY = "2026-11-20"


@dataclass
class Member:
    id: int
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def registration(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    return {
        "email": f"member{n}-{uuid.uuid4().hex[:6]}@example.com",
        "password": PASSWORD,
        "display_name": f"Member {n}",
        "privacy_policy_version": "2026-11-01",
        **overrides,
    }


async def register(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    return await client.post("/api/v1/auth/register", json=registration(**overrides))


async def member(client: httpx.AsyncClient, **overrides: Any) -> Member:
    created = await register(client, **overrides)
    assert created.status_code == 201, created.text
    body = created.json()
    return Member(body["user"]["id"], body["user"]["email"], body["access_token"], body["refresh_token"])


RECORDS: dict[str, dict[str, Any]] = {
    "workout": {"kind": "run", "minutes": 30, "calories": 300},
    "meal": {"kind": "lunch", "calories": 700, "items": ["rice", "tofu"]},
    "sleep": {
        "bed_time": "2026-11-19T23:00:00+08:00",
        "wake_time": "2026-11-20T07:00:00+08:00",
        "quality": 4,
    },
    "work": {"focus_minutes": 240, "tasks_done": 5, "summary": "Shipped"},
    "reading": {"title": "Deep Work", "pages": 20, "minutes": 30, "notes": "On focus"},
}


async def record(
    client: httpx.AsyncClient, who: Member, dimension: str, day: str = DAY, **overrides: Any
) -> dict[str, Any]:
    body = {"date": day, **RECORDS[dimension], **overrides}
    response = await client.post(f"/api/v1/records/{dimension}", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()
