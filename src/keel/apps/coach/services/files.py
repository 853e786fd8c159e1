"""Uploaded files: presigned uploads into the app's storage (local or S3), download links a
client renews while it owns the file, and the stored objects' removal with the account."""

import asyncio
import datetime as dt
import uuid
from typing import Any

from fastapi import Request
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import UploadedFile
from keel.apps.coach.schemas import UPLOAD_TYPES, PresignRequest
from keel.apps.coach.tasks import queue
from keel.core.db import Executor, fetch_one, utcnow
from keel.core.errors import NotFound
from keel.core.jobs import JobContext
from keel.core.storage import Presigner, presigner

UPLOAD_TTL = dt.timedelta(minutes=15)
DOWNLOAD_TTL = dt.timedelta(hours=1)
# Keys per removal job: a job's payload stays small however many files an account had.
REMOVAL_BATCH = 500

_OWNED = select(UploadedFile.key).where(
    UploadedFile.key == bindparam("key"), UploadedFile.user_id == bindparam("user_id")
)


def link(request: Request, store: Presigner, key: str) -> dict[str, Any]:
    """A fresh signed download link for a key (the caller checked who owns it)."""
    expires_at = dt.datetime.now(dt.UTC) + DOWNLOAD_TTL
    return {"key": key, "url": store.download_url(request, key, DOWNLOAD_TTL), "expires_at": expires_at}


async def presign(
    session: AsyncSession, request: Request, store: Presigner, user_id: int, data: PresignRequest
) -> dict[str, Any]:
    """A form for one upload (key chosen here, under the user's own prefix) and its link."""
    key = f"u{user_id}/{uuid.uuid4().hex}.{UPLOAD_TYPES[data.content_type]}"
    upload = store.upload(request, key, data.content_type, data.size, UPLOAD_TTL)
    session.add(
        UploadedFile(
            key=key,
            user_id=user_id,
            filename=data.filename,
            content_type=data.content_type,
            size=data.size,
            created_at=utcnow(),
        )
    )
    return {
        "url": upload.url,
        "fields": upload.fields,
        "key": key,
        "expires_at": upload.expires_at,
        "download_url": link(request, store, key)["url"],
    }


async def owned_link(
    db: Executor, request: Request, store: Presigner, user_id: int, key: str
) -> dict[str, Any]:
    """A renewed link for the user's own file; 404 for anyone else's (or no such key)."""
    if len(key) > 255 or await fetch_one(db, _OWNED, {"key": key, "user_id": user_id}) is None:
        raise NotFound("No such file")
    return link(request, store, key)


async def listing(
    session: AsyncSession, request: Request, store: Presigner, user_id: int
) -> list[dict[str, Any]]:
    """The user's files with fresh links (the export)."""
    rows = await session.execute(
        select(
            UploadedFile.key,
            UploadedFile.filename,
            UploadedFile.content_type,
            UploadedFile.size,
            UploadedFile.created_at,
        )
        .where(UploadedFile.user_id == user_id)
        .order_by(UploadedFile.created_at, UploadedFile.key)
    )
    files = []
    for row in rows:
        fresh = link(request, store, row.key)
        files.append(
            {**row._mapping, "download_url": fresh["url"], "download_expires_at": fresh["expires_at"]}
        )
    return files


async def forget(session: AsyncSession, user_id: int, request: Request | None) -> None:
    """Queue the removal of the user's stored objects, in the caller's (the erasure's)
    transaction: the job exists exactly when the account is gone, and survives a crash or a
    store that is down for a while (it is retried; removing twice is harmless)."""
    keys = (await session.scalars(select(UploadedFile.key).where(UploadedFile.user_id == user_id))).all()
    for start in range(0, len(keys), REMOVAL_BATCH):
        await queue.enqueue(
            session, "files.remove", {"keys": list(keys[start : start + REMOVAL_BATCH])}, request=request
        )


@queue.handler("files.remove")
async def remove(context: JobContext, payload: dict[str, Any]) -> None:
    # Built in a thread: an S3 client loads botocore's service model from disk.
    store = await asyncio.to_thread(presigner, context.settings, "coach")
    for key in payload["keys"]:
        await store.remove(key)
