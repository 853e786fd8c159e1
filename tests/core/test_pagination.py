"""Page/limit paging: parameters validated over HTTP, pages and totals from the database."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from sqlalchemy import insert, select

from keel.apps.shop.models import Category
from keel.core.app import KeelApp
from keel.core.db import Database, ReadDb, utcnow
from keel.core.pagination import Page, PageParams, PageRequest, fetch_page, page_of, page_params
from keel.settings import Settings

router = APIRouter()


@router.get("/categories", response_model=Page[str])
async def categories(db: ReadDb, page: PageParams) -> Page[str]:
    rows, total = await fetch_page(db, select(Category.name).order_by(Category.name), page)
    return page_of([row.name for row in rows], total, page)


@pytest.fixture
async def probe(
    shop_database: Database, settings: Settings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    registration = KeelApp(
        slug="probe", title="probe", description="", routers=[router], metadata=None, migrations=tmp_path
    )  # type: ignore[arg-type]
    now = utcnow()
    async with shop_database.engine.begin() as connection:
        await connection.execute(
            insert(Category),
            [{"name": f"C{i:02}", "created_at": now, "updated_at": now} for i in range(1, 46)],
        )
    transport = httpx.ASGITransport(app=registration.build(settings, shop_database))
    async with httpx.AsyncClient(transport=transport, base_url="http://probe.test") as client:
        yield client
    async with shop_database.engine.begin() as connection:
        await connection.execute(Category.__table__.delete())


async def test_pages_carry_their_items_total_and_page_count(probe: httpx.AsyncClient) -> None:
    first: dict[str, Any] = (await probe.get("/categories")).json()
    assert (first["total"], first["page"], first["limit"], first["total_pages"]) == (45, 1, 20, 3)
    assert first["items"][:2] == ["C01", "C02"]
    last = (await probe.get("/categories", params={"page": 3, "limit": 20})).json()
    assert last["items"] == [f"C{i}" for i in range(41, 46)]
    beyond = (await probe.get("/categories", params={"page": 9})).json()
    assert (beyond["items"], beyond["total"], beyond["total_pages"]) == ([], 45, 3)


@pytest.mark.parametrize("params", [{"page": 0}, {"limit": 0}, {"limit": 101}, {"page": "x"}])
async def test_bad_paging_is_422(probe: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await probe.get("/categories", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


@router.get("/long-pages", response_model=Page[str])
async def long_pages(db: ReadDb, page: Annotated[PageRequest, Depends(page_params(50))]) -> Page[str]:
    rows, total = await fetch_page(db, select(Category.name).order_by(Category.name), page, total=45)
    return page_of([row.name for row in rows], total, page)


async def test_a_list_has_its_own_default_page_size_within_the_same_bounds(probe: httpx.AsyncClient) -> None:
    whole = (await probe.get("/long-pages")).json()
    assert (len(whole["items"]), whole["limit"], whole["total_pages"]) == (45, 50, 1)
    assert (await probe.get("/long-pages", params={"limit": 101})).status_code == 422
