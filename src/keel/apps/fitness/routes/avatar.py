from typing import Any

from fastapi import APIRouter, Request, UploadFile

from keel.apps.fitness.deps import CurrentUser
from keel.apps.fitness.schemas import UserMe
from keel.apps.fitness.services import avatars
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import PayloadTooLarge, Unauthorized, UnsupportedMediaType, error_responses
from keel.core.http import FORM_OVERHEAD, body_limit
from keel.core.storage import Storage, public_url

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=TransactionalRoute)


@router.post(
    "/me/avatar",
    response_model=UserMe,
    responses=error_responses(Unauthorized, PayloadTooLarge, UnsupportedMediaType),
)
@body_limit(avatars.MAX_BYTES + FORM_OVERHEAD)
async def upload_avatar(
    file: UploadFile, request: Request, user: CurrentUser, session: DbSession, storage: Storage
) -> dict[str, Any]:
    """A JPEG, PNG or WebP image of at most 5 MB, recognised by its content, as multipart field
    `file`. The answer's `avatar_url` serves it back; sending the same image again is harmless."""
    key = await avatars.store(storage, file)
    return await avatars.set_avatar(session, user.id, public_url(request, key))
