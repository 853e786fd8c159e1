from typing import Any

from fastapi import APIRouter, Request

from keel.apps.coach.deps import CurrentUser, ReadLimit, WriteLimit
from keel.apps.coach.schemas import FileLink, PresignOut, PresignRequest
from keel.apps.coach.services import files
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import NotFound, TooManyRequests, Unauthorized, error_responses
from keel.core.storage import Presigned

router = APIRouter(prefix="/api/v1/files", tags=["files"], route_class=TransactionalRoute)


@router.post(
    "/presign",
    response_model=PresignOut,
    responses=error_responses(Unauthorized, TooManyRequests),
    dependencies=[WriteLimit],
)
async def presign(
    data: PresignRequest, request: Request, user: CurrentUser, session: DbSession, presigner: Presigned
) -> dict[str, Any]:
    """A form for uploading one file straight into storage: its key, type and size are fixed
    by the signature, and it expires in 15 minutes. `download_url` works for an hour."""
    return await files.presign(session, request, presigner, user.id, data)


@router.get(
    "/{key:path}/link",
    response_model=FileLink,
    responses=error_responses(Unauthorized, NotFound, TooManyRequests),
    dependencies=[ReadLimit],
)
async def link(
    key: str, request: Request, user: CurrentUser, db: ReadDb, presigner: Presigned
) -> dict[str, Any]:
    """A fresh download link (valid an hour) for one of the user's own files."""
    return await files.owned_link(db, request, presigner, user.id, key)
