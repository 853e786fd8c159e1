import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Request

from keel.apps.coach.deps import CurrentUser, WriteLimit
from keel.apps.coach.models import UploadedFile
from keel.apps.coach.schemas import UPLOAD_TYPES, PresignOut, PresignRequest
from keel.core.db import DbSession, TransactionalRoute, utcnow
from keel.core.errors import TooManyRequests, Unauthorized, error_responses
from keel.core.storage import LocalPresigner, Presigned

router = APIRouter(prefix="/api/v1/files", tags=["files"], route_class=TransactionalRoute)

UPLOAD_TTL = dt.timedelta(minutes=15)
DOWNLOAD_TTL = dt.timedelta(hours=1)


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
    by the signature, and it expires in 15 minutes."""
    key = f"u{user.id}/{uuid.uuid4().hex}.{UPLOAD_TYPES[data.content_type]}"
    upload = presigner.upload(request, key, data.content_type, data.size, UPLOAD_TTL)
    session.add(
        UploadedFile(
            key=key,
            user_id=user.id,
            filename=data.filename,
            content_type=data.content_type,
            size=data.size,
            created_at=utcnow(),
        )
    )
    download = (
        presigner.download_url(request, key, DOWNLOAD_TTL) if isinstance(presigner, LocalPresigner) else None
    )
    return {
        "url": upload.url,
        "fields": upload.fields,
        "key": key,
        "expires_at": upload.expires_at,
        "download_url": download,
    }
