"""Every error is JSON: domain errors with their status, 422 in FastAPI's list shape, and an
unhandled crash as a 500 that names the request id and shows no stack trace."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asyncpg.exceptions import TooManyConnectionsError
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from keel.core.app import KeelApp
from keel.core.errors import Conflict, NotFound
from keel.core.observability import ObservabilityMiddleware
from keel.settings import Settings

router = APIRouter()


class Body(BaseModel):
    count: int


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals")


@router.get("/missing")
async def missing() -> None:
    raise NotFound("Widget 7 not found")


@router.get("/overloaded")
async def overloaded() -> None:
    # What SQLAlchemy raises when PostgreSQL refuses a connection over max_connections.
    raise DBAPIError("SELECT 1", None, TooManyConnectionsError("sorry, too many clients already"))


@router.post("/conflict")
async def conflict(body: Body) -> None:
    raise Conflict(f"Widget {body.count} is busy")


@pytest.fixture
async def probe(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    registration = KeelApp(
        slug="probe",
        title="probe",
        description="",
        routers=[router],
        metadata=None,
        migrations=tmp_path,  # type: ignore[arg-type]
    )
    app = ObservabilityMiddleware(registration.build(settings), access_log_enabled=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://probe.test"
    ) as client:
        yield client


async def test_an_unhandled_error_is_a_json_500_with_the_request_id(probe: httpx.AsyncClient, caplog) -> None:
    response = await probe.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body == {"detail": "Internal server error", "request_id": response.headers["x-request-id"]}
    assert "secret internals" not in response.text
    logged = [r for r in caplog.records if r.name == "keel.errors"]
    assert len(logged) == 1 and logged[0].exc_info is not None


async def test_domain_errors_render_their_status_and_detail(probe: httpx.AsyncClient) -> None:
    missing = await probe.get("/missing")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Widget 7 not found"})
    busy = await probe.post("/conflict", json={"count": 3})
    assert (busy.status_code, busy.json()) == (409, {"detail": "Widget 3 is busy"})


async def test_validation_errors_keep_fastapis_list_shape(probe: httpx.AsyncClient) -> None:
    response = await probe.post("/conflict", json={"count": "many"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "count"]


async def test_unknown_routes_and_methods_are_json(probe: httpx.AsyncClient) -> None:
    assert (await probe.get("/nowhere")).json() == {"detail": "Not Found"}
    wrong_method = await probe.delete("/missing")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"detail": "Method Not Allowed"}


async def test_a_sane_incoming_request_id_is_kept_and_a_bad_one_replaced(probe: httpx.AsyncClient) -> None:
    kept = await probe.get("/missing", headers={"X-Request-ID": "trace-abc-123"})
    assert kept.headers["x-request-id"] == "trace-abc-123"
    replaced = await probe.get("/missing", headers={"X-Request-ID": "x" * 500})
    assert len(replaced.headers["x-request-id"]) == 32


async def test_a_database_at_its_connection_limit_is_a_503_to_retry(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/overloaded")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "capacity" in response.json()["detail"]
