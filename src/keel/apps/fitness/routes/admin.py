"""The back office's reads (issue 12, item 7): what the admin console lists and shows across
every user. Edits have their own endpoints already (`PATCH`/`DELETE /trainings/{id}`,
`PUT /meta/app_version/{platform}`)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator

from keel.apps.fitness.deps import StartedBefore, StartedFrom, auth
from keel.apps.fitness.schemas import (
    AdminSessionDetail,
    AdminSessionOut,
    AdminUserDetail,
    AdminUserOut,
    AppVersionRecord,
    DeviceType,
    SourceType,
    TrainingOut,
    TrainingSummaryOut,
    TrainingType,
)
from keel.apps.fitness.services import admin, app_versions, trainings
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Forbidden, NotFound, Unauthorized, Unprocessable, error_responses
from keel.core.pagination import Page, PageParams, page_of
from keel.core.params import MAX_INT_ID, IntId, reject_nul

# Every route here is the back office's: an admin's token, or 401 (none) / 403 (not an admin).
router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    route_class=TransactionalRoute,
    dependencies=[Depends(auth.admin_user)],
    responses=error_responses(Unauthorized, Forbidden),
)


@router.get("/sessions", response_model=Page[AdminSessionOut], responses=error_responses(Unprocessable))
async def list_sessions(
    db: ReadDb,
    page: PageParams,
    user_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT_ID, description="Only this user's (none for an unknown id)")
    ] = None,
    device_type: Annotated[str | None, Query(max_length=16, description="As the phone sent it")] = None,
    source_type: SourceType | None = None,
    since: StartedFrom = None,
    until: StartedBefore = None,
) -> Page[Any]:
    """Every user's sessions, newest first, without their time series, each with its owner
    (`user`: id, email, display name); `from` after `to` is 422."""
    items, total = await admin.list_sessions(
        db,
        page,
        user_id=user_id,
        device_type=device_type,
        source_type=source_type,
        since=since,
        until=until,
    )
    return page_of(items, total, page)


@router.get("/sessions/{session_id}", response_model=AdminSessionDetail, responses=error_responses(NotFound))
async def session_detail(session_id: uuid.UUID, db: ReadDb) -> dict[str, Any]:
    """Any user's session by its server id, with its time series (the console's curves) and owner."""
    return await admin.session_detail(db, session_id)


@router.get("/users", response_model=Page[AdminUserOut])
async def list_users(
    db: ReadDb,
    page: PageParams,
    q: Annotated[
        str | None,
        Query(max_length=100, description="A part of the email or display name, in any case"),
        AfterValidator(reject_nul),
    ] = None,
) -> Page[Any]:
    """Users newest first, with the total for paging."""
    items, total = await admin.list_users(db, page, search=q)
    return page_of(items, total, page)


@router.get("/users/{user_id}", response_model=AdminUserDetail, responses=error_responses(NotFound))
async def user_detail(user_id: IntId, session: DbSession) -> dict[str, Any]:
    """One user with their running totals (`stats`, which the app may overwrite) and what their
    stored sessions add up to (`activity`: count, time, calories, distance, first and last
    session, per device type); their sessions are `GET /admin/sessions?user_id=`."""
    return await admin.user_detail(session, user_id)


@router.get("/trainings", response_model=Page[TrainingSummaryOut])
async def list_trainings(
    db: ReadDb,
    page: PageParams,
    enabled: Annotated[bool | None, Query(description="Only enabled (true) or disabled (false) ones")] = None,
    device_type: Annotated[DeviceType | None, Query(description="Only courses this machine supports")] = None,
    type: Annotated[TrainingType | None, Query()] = None,
) -> Page[Any]:
    """Every course, disabled ones too unless `enabled` says otherwise, oldest first."""
    items, total = await trainings.list_trainings(
        db, page, device_type=device_type, training_type=type, enabled=enabled
    )
    return page_of(items, total, page)


@router.get("/trainings/{training_id}", response_model=TrainingOut, responses=error_responses(NotFound))
async def get_training(training_id: IntId, db: ReadDb) -> dict[str, Any]:
    """One course, disabled or not, with its resistance script."""
    return await trainings.get_training(db, training_id, include_disabled=True)


@router.get("/app_versions", response_model=list[AppVersionRecord])
async def list_app_versions(db: ReadDb) -> list[dict[str, Any]]:
    """Each platform's published versions (a platform never published is absent); publish with
    `PUT /meta/app_version/{platform}`."""
    return await app_versions.published(db)
