from typing import Any

from fastapi import APIRouter, Request, UploadFile

from keel.apps.queue.deps import CurrentUser
from keel.apps.queue.schemas import AvatarUploaded
from keel.apps.queue.services import avatars
from keel.core.errors import BadRequest, PayloadTooLarge, Unauthorized, error_responses
from keel.core.http import FORM_OVERHEAD, body_limit
from keel.core.storage import Storage, public_url

router = APIRouter(prefix="/upload", tags=["upload"])


@router.post(
    "/avatar",
    response_model=AvatarUploaded,
    responses=error_responses(Unauthorized, BadRequest, PayloadTooLarge),
)
@body_limit(avatars.MAX_BYTES + FORM_OVERHEAD)
async def upload_avatar(
    file: UploadFile, request: Request, _user: CurrentUser, storage: Storage
) -> dict[str, Any]:
    """A JPEG, PNG or WebP image (judged by its bytes) of at most 5 MB, as multipart field
    `file`. The answer's URL serves it back; put it in the profile or a store to use it."""
    key, uploaded_at = await avatars.store(storage, file)
    return {"avatar_url": public_url(request, key), "message": "頭像上傳成功", "uploaded_at": uploaded_at}
