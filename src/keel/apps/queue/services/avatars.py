"""Avatars for users and stores: an image checked by its content, stored once however often
it is sent. The upload only stores it; the client puts the URL where it wants it."""

from datetime import datetime

from fastapi import UploadFile

from keel.core.db import utcnow
from keel.core.errors import BadRequest
from keel.core.http import describe_size
from keel.core.storage import LocalStorage, detect_image_type, read_upload

MAX_BYTES = 5 * 1024 * 1024
ACCEPTED = ("image/jpeg", "image/png", "image/webp")


async def store(storage: LocalStorage, upload: UploadFile) -> tuple[str, datetime]:
    """The stored image's key. Its type comes from its bytes, never from the client's name or
    content type: 413 past 5 MB, 400 for anything but JPEG, PNG or WebP (as the spec says)."""
    data = await read_upload(upload, MAX_BYTES)
    content_type = detect_image_type(data[:12])
    if content_type not in ACCEPTED:
        raise BadRequest(
            f"The avatar must be a JPEG, PNG or WebP image of at most {describe_size(MAX_BYTES)}"
        )
    return await storage.save(data, content_type), utcnow()
