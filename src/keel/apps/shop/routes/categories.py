from fastapi import APIRouter, Response

from keel.apps.shop.deps import AdminUser
from keel.apps.shop.models import Category
from keel.apps.shop.schemas import CategoryCreate, CategoryOut, CategoryUpdate
from keel.apps.shop.services import catalog
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, error_responses
from keel.core.pagination import TOTAL_COUNT
from keel.core.params import IntId

router = APIRouter(prefix="/api/categories", tags=["categories"], route_class=TransactionalRoute)
_ADMIN_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict)


@router.get("", response_model=list[CategoryOut])
async def list_categories(session: DbSession, response: Response) -> list[Category]:
    """Every category by name, unpaged: `X-Total-Count` is the list's length, as on the others."""
    categories = await catalog.list_categories(session)
    response.headers[TOTAL_COUNT] = str(len(categories))
    return categories


@router.get("/{category_id}", response_model=CategoryOut, responses=error_responses(NotFound))
async def get_category(category_id: IntId, session: DbSession) -> Category:
    return await catalog.get_category(session, category_id)


@router.post("", status_code=201, response_model=CategoryOut, responses=_ADMIN_ERRORS)
async def create_category(data: CategoryCreate, _admin: AdminUser, session: DbSession) -> Category:
    return await catalog.create_category(session, data)


@router.put("/{category_id}", response_model=CategoryOut, responses=_ADMIN_ERRORS)
async def update_category(
    category_id: IntId, data: CategoryUpdate, _admin: AdminUser, session: DbSession
) -> Category:
    return await catalog.update_category(session, category_id, data)


@router.delete("/{category_id}", status_code=204, response_class=Response, responses=_ADMIN_ERRORS)
async def delete_category(category_id: IntId, _admin: AdminUser, session: DbSession) -> None:
    """Its products stay on sale without a category."""
    await catalog.delete_category(session, category_id)
