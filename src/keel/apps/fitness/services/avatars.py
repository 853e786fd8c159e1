"""Avatars: an image checked by its content, stored once however often it is sent."""

from typing import Any

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import User
from keel.apps.fitness.services import accounts
from keel.core.errors import UnsupportedMediaType
from keel.core.http import describe_size
from keel.core.storage import LocalStorage, detect_image_type, read_upload

MAX_BYTES = 5 * 1024 * 1024
ACCEPTED = ("image/jpeg", "image/png", "image/webp")


async def store(storage: LocalStorage, upload: UploadFile) -> str:
    """The stored image's key. Its type comes from its bytes: the client's file name and
    content type are not trusted (413 past 5 MB, 415 for anything but JPEG, PNG or WebP)."""
    data = await read_upload(upload, MAX_BYTES)
    content_type = detect_image_type(data[:12])
    if content_type not in ACCEPTED:
        raise UnsupportedMediaType(
            f"The avatar must be a JPEG, PNG or WebP image ({', '.join(ACCEPTED)}) "
            f"of at most {describe_size(MAX_BYTES)}"
        )
    return await storage.save(data, content_type)


async def set_avatar(session: AsyncSession, user_id: int, url: str) -> dict[str, Any]:
    # The previous image stays: content-addressed files may be shared, and cost little.
    user = await session.get_one(User, user_id)
    user.avatar_url = url
    await session.flush()
    return await accounts.profile(session, user_id)
