import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from keel.apps.queue.deps import AppSettings, CurrentUser
from keel.apps.queue.schemas import (
    RunStores,
    StoreCreate,
    StoreCreated,
    StoreList,
    StoreOut,
    StoreUpdate,
)
from keel.apps.queue.services import board, stores
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Forbidden, NotFound, Unauthorized, error_responses
from keel.core.pagination import PageParams

router = APIRouter(prefix="/stores", tags=["stores"], route_class=TransactionalRoute)


@router.get(
    "",
    response_model=StoreList,
    responses={400: {"description": "A malformed query parameter, in FastAPI's list shape"}},
)
async def list_stores(
    db: ReadDb,
    page: PageParams,
    search: Annotated[
        str | None, Query(max_length=100, description="In name, description or address")
    ] = None,
) -> dict[str, Any]:
    """Stores open for booking, each with how many people wait there now."""
    return await stores.list_stores(db, page, search)


@router.post("", status_code=201, response_model=StoreCreated, responses=error_responses(Unauthorized))
async def create_store(
    data: StoreCreate, user: CurrentUser, session: DbSession, settings: AppSettings
) -> dict[str, Any]:
    """The signed-in user becomes the store's owner; its queue opens at once (unless
    `accepting_bookings: false`). Without `time_zone` the store takes the deployment's
    (`KEEL_QUEUE_DEFAULT_TIME_ZONE`, Asia/Taipei); its numbers restart at that zone's midnight."""
    store = await stores.create_store(session, user.id, data, settings.queue_default_time_zone)
    return {
        "id": store.id,
        "name": store.name,
        "message": "商家建立成功,開始接受預約!",
        "created_at": store.created_at,
        "time_zone": store.time_zone,
        "opening_hours": store.opening_hours,
        "accepting_bookings": store.accepting_bookings,
        "end_of_day_no_show": store.end_of_day_no_show,
    }


@router.get("/mine", response_model=RunStores, responses=error_responses(Unauthorized))
async def my_stores(user: CurrentUser, db: ReadDb) -> dict[str, Any]:
    """The stores the signed-in user runs, as their owner or on their staff (`role`), active or
    not, oldest first; empty for a customer. What the counter's board lists."""
    return {"stores": await board.my_stores(db, user.id)}


@router.get("/{store_id}", response_model=StoreOut, responses=error_responses(NotFound))
async def get_store(store_id: uuid.UUID, db: ReadDb) -> dict[str, Any]:
    return await stores.get_store(db, store_id)


@router.put(
    "/{store_id}", response_model=StoreOut, responses=error_responses(Unauthorized, Forbidden, NotFound)
)
async def update_store(
    store_id: uuid.UUID, data: StoreUpdate, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """The owner's changes; `is_active: false` closes the queue to new bookings (those already
    in line stay), `true` opens it again. `accepting_bookings: false` pauses bookings while the
    store stays listed; `opening_hours` and `time_zone` set its day."""
    return await stores.update_store(session, user.id, store_id, data)
