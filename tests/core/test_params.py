"""UtcDatetime: the one rule for times clients send, in a query or a body."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from keel.core.params import Schema, UtcDatetime

app = FastAPI()


class Window(Schema):
    start: UtcDatetime


@app.get("/since")
async def since(at: UtcDatetime | None = None) -> dict[str, str | None]:
    return {"at": at.isoformat() if at else None}


@app.post("/window")
async def window(data: Window) -> dict[str, str]:
    return {"start": data.start.isoformat()}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("2026-01-15T10:40:00", "2026-01-15T10:40:00+00:00"),  # no zone: UTC
        ("2026-01-15", "2026-01-15T00:00:00+00:00"),  # a date: its midnight, UTC
        ("2026-01-15T18:40:00+08:00", "2026-01-15T10:40:00+00:00"),  # a zone: moved to UTC
        ("2026-01-15T10:40:00Z", "2026-01-15T10:40:00+00:00"),
    ],
)
async def test_a_time_is_utc_in_a_query_and_in_a_body(
    client: httpx.AsyncClient, sent: str, meant: str
) -> None:
    assert (await client.get("/since", params={"at": sent})).json() == {"at": meant}
    assert (await client.post("/window", json={"start": sent})).json() == {"start": meant}


async def test_a_time_that_is_not_one_is_422(client: httpx.AsyncClient) -> None:
    answer = await client.get("/since", params={"at": "yesterday"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "at"]
    assert (await client.get("/since")).json() == {"at": None}
