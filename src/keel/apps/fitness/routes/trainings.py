from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from keel.apps.fitness.deps import AdminUser
from keel.apps.fitness.schemas import (
    DeviceType,
    TrainingCreate,
    TrainingOut,
    TrainingSummaryOut,
    TrainingType,
    TrainingUpdate,
)
from keel.apps.fitness.services import trainings
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Forbidden, NotFound, Unauthorized, error_responses
from keel.core.pagination import Page, PageParams, page_of
from keel.core.params import IntId

router = APIRouter(prefix="/api/v1/trainings", tags=["trainings"], route_class=TransactionalRoute)
_ADMIN_ERRORS = error_responses(Unauthorized, Forbidden, NotFound)


@router.get("", response_model=Page[TrainingSummaryOut])
async def list_trainings(
    db: ReadDb,
    page: PageParams,
    device_type: Annotated[DeviceType | None, Query(description="Only courses this machine supports")] = None,
    type: Annotated[TrainingType | None, Query()] = None,
) -> Page[Any]:
    """The enabled courses, oldest first, with the total for paging."""
    items, total = await trainings.list_trainings(
        db, page, device_type=device_type, training_type=type, enabled=True
    )
    return page_of(items, total, page)


@router.get("/{training_id}", response_model=TrainingOut, responses=error_responses(NotFound))
async def get_training(training_id: IntId, db: ReadDb) -> dict[str, Any]:
    """One course with its resistance script (`settings`)."""
    return await trainings.get_training(db, training_id, include_disabled=False)


@router.post("", status_code=201, response_model=TrainingOut, responses=_ADMIN_ERRORS)
async def create_training(data: TrainingCreate, _admin: AdminUser, session: DbSession) -> dict[str, Any]:
    return await trainings.create_training(session, data)


@router.patch("/{training_id}", response_model=TrainingOut, responses=_ADMIN_ERRORS)
async def update_training(
    training_id: IntId, data: TrainingUpdate, _admin: AdminUser, session: DbSession
) -> dict[str, Any]:
    """Change any field; `enabled: false` takes a course out of the app, true puts it back."""
    return await trainings.update_training(session, training_id, data)


@router.delete("/{training_id}", status_code=204, response_class=Response, responses=_ADMIN_ERRORS)
async def disable_training(training_id: IntId, _admin: AdminUser, session: DbSession) -> None:
    """Disable: the course leaves the app; sessions recorded with it keep pointing at it."""
    await trainings.update_training(session, training_id, TrainingUpdate(enabled=False))
