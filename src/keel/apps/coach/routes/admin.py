"""Support's reads for the admin console (issue 15): every user with their AI tasks' counts,
one user's profile, records and AI usage, and the AI tasks across users. Admins only; nothing
here writes."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator

from keel.apps.coach.deps import ReadLimit, auth
from keel.apps.coach.schemas import (
    AdminTaskDetail,
    AdminTaskOut,
    AdminUserDetail,
    AdminUserOut,
    ProviderCount,
    TaskStatus,
    TaskType,
)
from keel.apps.coach.services import admin
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Forbidden, NotFound, Unauthorized, Unprocessable, error_responses
from keel.core.pagination import Page, PageParams, page_of
from keel.core.params import MAX_INT_ID, IntId, reject_nul

# An admin's token, or 401 (none) / 403 (not an admin).
router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    route_class=TransactionalRoute,
    dependencies=[Depends(auth.admin_user), ReadLimit],
    responses=error_responses(Unauthorized, Forbidden),
)


@router.get("/users", response_model=Page[AdminUserOut], responses=error_responses(Unprocessable))
async def list_users(
    db: ReadDb,
    page: PageParams,
    q: Annotated[
        str | None,
        Query(max_length=100, description="A part of the email, phone number or display name, in any case"),
        AfterValidator(reject_nul),
    ] = None,
) -> Page[Any]:
    """Users newest first, with the total for paging, each with their AI tasks' counts."""
    items, total = await admin.list_users(db, page, search=q)
    return page_of(items, total, page)


@router.get("/users/{user_id}", response_model=AdminUserDetail, responses=error_responses(NotFound))
async def user_detail(user_id: IntId, request: Request, session: DbSession) -> dict[str, Any]:
    """One user as support needs them: the account, the AI settings, records kept per dimension,
    signed-in devices, AI usage against the daily quota, and the newest AI tasks."""
    quota = request.app.state.settings.coach_ai_daily_quota
    return await admin.user_detail(session, user_id, quota)


@router.get("/ai/tasks", response_model=Page[AdminTaskOut], responses=error_responses(Unprocessable))
async def list_tasks(
    db: ReadDb,
    page: PageParams,
    status: TaskStatus | None = None,
    type: TaskType | None = None,
    provider: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A provider as stored (`llm:gpt-4o-mini`, `rules:fallback`) or its family (`llm`, `rules`)",
        ),
        AfterValidator(reject_nul),
    ] = None,
    user_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT_ID, description="Only this user's (none for an unknown id)")
    ] = None,
) -> Page[Any]:
    """Every user's AI tasks, newest first, with the total for paging: status, provider, model,
    tokens, the writer's time and the error; never what they were asked or wrote."""
    items, total = await admin.list_tasks(
        db, page, status=status, kind=type, provider=provider, user_id=user_id
    )
    return page_of(items, total, page)


@router.get("/ai/tasks/{task_id}", response_model=AdminTaskDetail, responses=error_responses(NotFound))
async def task_detail(task_id: uuid.UUID, db: ReadDb) -> dict[str, Any]:
    """Any user's task with its `input` (the day, range or period) and its result's bookkeeping
    (fallback, its reason, provider, time); the text it wrote for the user is withheld, each
    field named in `withheld` with its size."""
    return await admin.task_detail(db, task_id)


@router.get("/ai/providers", response_model=list[ProviderCount])
async def providers(db: ReadDb) -> list[dict[str, Any]]:
    """The providers that wrote tasks, with how many each, most used first."""
    return await admin.providers(db)
