from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from keel.apps.shop.deps import AdminUser
from keel.apps.shop.schemas import (
    BestsellerOut,
    ProductCreate,
    ProductDetailOut,
    ProductOut,
    ProductSort,
    ProductUpdate,
)
from keel.apps.shop.services import catalog
from keel.core.db import AppDatabase, DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Forbidden, NotFound, Unauthorized, error_responses
from keel.core.pagination import TOTAL_COUNT, OffsetParams
from keel.core.params import IntId

router = APIRouter(prefix="/api/products", tags=["products"], route_class=TransactionalRoute)
_ADMIN_ERRORS = error_responses(Unauthorized, Forbidden, NotFound)


@router.get("", response_model=list[ProductOut])
@router.get("/", response_model=list[ProductOut], include_in_schema=False)
async def list_products(
    db: ReadDb,
    response: Response,
    page: OffsetParams,
    category: Annotated[
        str | None, Query(max_length=255, pattern=r"^[^\x00]*$", description="Category name (or id)")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=255, pattern=r"^[^\x00]*$", description="Part of the name, in any case"),
    ] = None,
    sort_by: Annotated[ProductSort | None, Query(description="Order of the list; default is by id")] = None,
) -> list[dict[str, Any]]:
    """The live catalogue; `category`, `q` and `sort_by` combine. `X-Total-Count` is how many
    products the filters keep across all pages."""
    products, total = await catalog.list_products(db, page, category=category, q=q, sort=sort_by)
    response.headers[TOTAL_COUNT] = str(total)
    return products


@router.get("/bestsellers", response_model=list[BestsellerOut])
async def bestsellers(
    request: Request, db: ReadDb, limit: Annotated[int, Query(ge=1, le=100)] = 5
) -> list[dict[str, Any]]:
    """Products ranked by units sold in orders that were paid and not cancelled."""
    tiflash = request.app.state.settings.shop_tidb_tiflash_replicas > 0
    return await catalog.bestsellers(db, limit, tiflash=tiflash)


@router.get("/{product_id}", response_model=ProductDetailOut, responses=error_responses(NotFound))
async def get_product(product_id: IntId, db: ReadDb) -> dict[str, Any]:
    return await catalog.get_product(db, product_id)


@router.post("", status_code=201, response_model=ProductDetailOut, responses=_ADMIN_ERRORS)
async def create_product(data: ProductCreate, _admin: AdminUser, database: AppDatabase) -> dict[str, Any]:
    return await catalog.create_product(database.autocommit, data)


@router.put("/{product_id}", response_model=ProductDetailOut, responses=_ADMIN_ERRORS)
async def update_product(
    product_id: IntId, data: ProductUpdate, _admin: AdminUser, session: DbSession
) -> dict[str, Any]:
    return await catalog.update_product(session, product_id, data)


@router.delete("/{product_id}", status_code=204, response_class=Response, responses=_ADMIN_ERRORS)
async def delete_product(product_id: IntId, _admin: AdminUser, session: DbSession) -> None:
    """A product that was ever ordered is archived (hidden, kept for order history)."""
    await catalog.delete_product(session, product_id)
