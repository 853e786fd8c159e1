"""Uploaded files: content-addressed local storage per app, reading uploads within a size limit,
detecting images by their first bytes, and the read-only route that serves files back.

A file's key is the SHA-256 of its bytes plus an extension from its content type, sharded as
`ab/cd/<sha256>.png`: the same bytes stored twice are one file, so a retried upload is stored
exactly once, and a key never changes meaning, so it is served with a year-long cache. Files
are written to a temporary file and moved into place with `os.replace`, so a reader never sees
half a file; all file I/O runs off the event loop.
"""

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import Depends, Request, UploadFile
from starlette.responses import FileResponse, Response

from keel.core.errors import NotFound, PayloadTooLarge

CHUNK_SIZE = 64 * 1024

# The types keel stores under their own extension and serves back with their own type. Anything
# else is kept as `.bin` and served as application/octet-stream: uploaded HTML or SVG served
# from the API's origin with its real type would run script there.
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "application/pdf": "pdf",
    "application/json": "json",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/zip": "zip",
    "application/octet-stream": "bin",
}
_CONTENT_TYPES = {extension: content_type for content_type, extension in _EXTENSIONS.items()}

# A valid key and nothing else: no `..`, no absolute path, no other file under the root.
_KEY = re.compile(r"(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{2})/(?P<sha>[0-9a-f]{64})\.(?P<ext>[a-z0-9]{1,8})")

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


def detect_image_type(head: bytes) -> str | None:
    """JPEG, PNG or WebP from the first bytes (12 are enough), whatever the client claimed."""
    if head.startswith(_JPEG):
        return "image/jpeg"
    if head.startswith(_PNG):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def describe_size(limit: int) -> str:
    """`5 MB (5,242,880 bytes)`: the rounded size people read and the exact one machines check."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit} ({limit:,} bytes)"
    return f"{limit:,} bytes"


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is too large: at most {describe_size(limit)} is accepted")


async def iter_upload(upload: UploadFile, limit: int) -> AsyncIterator[bytes]:
    """The upload's bytes in chunks; 413 as soon as they pass `limit` bytes."""
    if upload.size is not None and upload.size > limit:
        raise _too_large(limit)  # known from the parsed form: no need to read it
    await upload.seek(0)
    total = 0
    while chunk := await upload.read(min(CHUNK_SIZE, limit + 1 - total)):
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        yield chunk


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    """The whole upload, holding at most `limit` bytes (plus one) in memory; 413 above it.

    The multipart parser has already spooled the file (to disk past 1 MB); this only bounds
    what the app keeps in memory.
    """
    return b"".join([chunk async for chunk in iter_upload(upload, limit)])


class LocalStorage:
    """Content-addressed files under one folder (`data_dir/uploads/<app slug>`)."""

    def __init__(self, root: Path):
        self.root = root

    async def save(
        self, data: bytes | AsyncIterable[bytes], content_type: str, *, limit: int | None = None
    ) -> str:
        """Store the bytes (or a stream of them, never held whole in memory) and return their key.

        Storing bytes that are already stored writes nothing and returns the same key. `limit`
        bounds a stream (413 past it); bytes are already in memory, so their caller checks.
        """
        extension = _EXTENSIONS.get(_base_type(content_type), "bin")
        if isinstance(data, bytes | bytearray | memoryview):
            return await asyncio.to_thread(self._save_bytes, bytes(data), extension)
        return await self._save_stream(data, extension, limit)

    def path(self, key: str) -> Path | None:
        """Where a key's file would be; None for anything that is not a well-formed key."""
        match = _KEY.fullmatch(key)
        if match is None or match["sha"][:4] != match["a"] + match["b"]:
            return None
        return self.root / key

    async def find(self, key: str) -> tuple[Path, os.stat_result] | None:
        """The file stored under a key and its stat, or None."""
        path = self.path(key)
        if path is None:
            return None
        try:
            stat = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return path, stat

    @staticmethod
    def content_type(key: str) -> str:
        return _CONTENT_TYPES.get(key.rpartition(".")[2], "application/octet-stream")

    @staticmethod
    def _key(sha: str, extension: str) -> str:
        return f"{sha[:2]}/{sha[2:4]}/{sha}.{extension}"

    def _save_bytes(self, data: bytes, extension: str) -> str:
        key = self._key(hashlib.sha256(data).hexdigest(), extension)
        target = self.root / key
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = _temporary_file(target.parent)
            try:
                with handle:
                    handle.write(data)
                    _sync(handle)
                os.replace(temporary, target)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        return key

    async def _save_stream(self, chunks: AsyncIterable[bytes], extension: str, limit: int | None) -> str:
        # Written beside the shards (same file system, so the final move is atomic) until the
        # hash, and so the key, is known. Dot-named, so never a valid key.
        incoming = self.root / ".incoming"
        await asyncio.to_thread(incoming.mkdir, parents=True, exist_ok=True)
        handle, temporary = await asyncio.to_thread(_temporary_file, incoming)
        digest, total = hashlib.sha256(), 0
        try:
            async for chunk in chunks:
                total += len(chunk)
                if limit is not None and total > limit:
                    raise _too_large(limit)
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_sync, handle)
            key = self._key(digest.hexdigest(), extension)
            target = self.root / key
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            # Identical bytes racing in: each replace puts the same complete file in place.
            await asyncio.to_thread(os.replace, temporary, target)
        except BaseException:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise
        finally:
            handle.close()
        return key


def _base_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _temporary_file(folder: Path) -> tuple[BinaryIO, Path]:
    descriptor, name = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    os.fchmod(descriptor, 0o644)  # mkstemp's 0600 would hide the file from a front web server
    return os.fdopen(descriptor, "wb"), Path(name)


def _sync(handle: BinaryIO) -> None:
    """On disk before it is renamed, so after a crash the final name never holds a short file."""
    handle.flush()
    os.fsync(handle.fileno())


async def _request_storage(request: Request) -> LocalStorage:
    return request.app.state.storage


# The app's file storage (`KeelApp.build` attaches it).
Storage = Annotated[LocalStorage, Depends(_request_storage)]


def public_url(request: Request, key: str) -> str:
    """The URL a client fetches a stored file from.

    `KEEL_PUBLIC_BASE_URL` plus the app's mount path when set, else this request's own origin.
    Built from the app's own routes: `request.url_for` would ask the server's router when the
    app is mounted, which finds the first mounted app with a "files" route, not this one.
    """
    path = str(request.app.url_path_for("files", key=key))
    root_path = request.scope.get("root_path", "")  # the server's root path plus the mount
    base_url = request.app.state.settings.public_base_url
    if base_url:
        server_root = request.scope.get("app_root_path", root_path)
        return base_url.rstrip("/") + root_path.removeprefix(server_root) + path
    return str(request.base_url.replace(path=root_path + path))


_IMMUTABLE = "public, max-age=31536000, immutable"


async def serve_file(request: Request) -> Response:
    """`GET /files/{key}`: a stored file, cached for a year (its key is its content)."""
    key = request.path_params["key"]
    found = await request.app.state.storage.find(key)
    if found is None:
        raise NotFound("No such file")
    path, stat = found
    headers = {
        "Cache-Control": _IMMUTABLE,
        "ETag": f'"{path.stem}"',
        "X-Content-Type-Options": "nosniff",
    }
    if headers["ETag"] in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=LocalStorage.content_type(key), headers=headers, stat_result=stat)
