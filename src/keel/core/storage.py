"""Uploaded files: content-addressed local storage per app, reading uploads within a size limit,
detecting images by their first bytes, the read-only route that serves files back, and
presigned uploads and downloads (local, or an S3-compatible store signed by botocore).

A file's key is the SHA-256 of its bytes plus an extension from its content type, sharded as
`ab/cd/<sha256>.png`: the same bytes stored twice are one file, so a retried upload is stored
exactly once, and a key never changes meaning, so it is served with a year-long cache. Files
are written to a temporary file and moved into place with `os.replace`, so a reader never sees
half a file; all file I/O runs off the event loop.
"""

import asyncio
import hashlib
import hmac
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, BinaryIO
from urllib.parse import urlencode, urlsplit

import botocore.session
from botocore.config import Config
from fastapi import Depends, Request, UploadFile
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.responses import FileResponse, Response

from keel.core.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType
from keel.core.http import FORM_OVERHEAD, MiB, body_limit, describe_size

CHUNK_SIZE = 64 * 1024

# The types keel stores under their own extension and serves back with their own type. Anything
# else is kept as `.bin` and served as application/octet-stream: uploaded HTML or SVG served
# from the API's origin with its real type would run script there.
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/heic": "heic",
    "image/heif": "heif",
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
# HEIF files (iPhone photos) open with an ISO-BMFF `ftyp` box: a 4-byte size, `ftyp`, then the
# major brand. HEVC-coded brands are HEIC; `mif1`/`msf1` are HEIF's generic image/sequence brands.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
# The types one photo may be declared as and still match its bytes: a phone names a `mif1`
# file image/heic as often as image/heif.
_SAME_IMAGE = {"image/heic": "image/heif", "image/heif": "image/heic"}


def detect_image_type(head: bytes) -> str | None:
    """JPEG, PNG, WebP, HEIC or HEIF from the first bytes (12 are enough), whatever the client
    claimed."""
    if head.startswith(_JPEG):
        return "image/jpeg"
    if head.startswith(_PNG):
        return "image/png"
    if len(head) < 12:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        if head[8:12] in _HEIC_BRANDS:
            return "image/heic"
        if head[8:12] in _HEIF_BRANDS:
            return "image/heif"
    return None


# The image types detect_image_type knows, so a presigned upload of one is checked by its bytes.
_DETECTABLE = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"})


def image_matches(head: bytes, content_type: str) -> bool:
    """Whether the first bytes are an image of `content_type` (HEIC and HEIF count as one)."""
    detected = detect_image_type(head)
    return detected is not None and content_type in (detected, _SAME_IMAGE.get(detected))


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

    async def remove(self, key: str) -> None:
        """Delete a key's file; nothing for a key with no file (or not a key). Content-addressed
        files may be shared: the caller knows nothing else points at this one."""
        path = self.path(key)
        if path is not None:
            await asyncio.to_thread(path.unlink, missing_ok=True)

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
    return absolute_url(request, "files", key=key)


def key_of_url(url: str) -> str | None:
    """The key a `public_url` names, whatever its origin; None for a URL that names none."""
    _, found, key = urlsplit(url).path.partition("/files/")
    return key if found and key else None


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


# --- presigned uploads and downloads ---------------------------------------------------------
#
# A client uploads straight into storage with a form the server signed: the key, the content
# type and the largest size are fixed by the signature, and it expires. Local storage checks
# that signature itself at `POST /files/presigned` and serves signed, expiring downloads at
# `GET /files/presigned/{key}`; an S3-compatible store checks its own (a SigV4 POST policy, a
# SigV4 presigned GET). Both presigners also delete (`remove`) what was uploaded.

_PRESIGNED_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,4}\.[a-z0-9]{1,8}")
# The largest file a local upload form may allow: the receiver's body limit is sized from it.
PRESIGNED_UPLOAD_MAX_BYTES = 100 * MiB


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    fields: dict[str, str]
    expires_at: datetime


def _hmac(secret: str | bytes, message: str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def absolute_url(request: Request, route: str, **params: str) -> str:
    """The URL of one of the app's own routes, mounted or not, behind `KEEL_PUBLIC_BASE_URL`."""
    path = str(request.app.url_path_for(route, **params))
    root_path = request.scope.get("root_path", "")  # the server's root path plus the mount
    base_url = request.app.state.settings.public_base_url
    if base_url:
        server_root = request.scope.get("app_root_path", root_path)
        return base_url.rstrip("/") + root_path.removeprefix(server_root) + path
    return str(request.base_url.replace(path=root_path + path))


class LocalPresigner:
    """Signs upload forms and download URLs for files under `root`, which the app serves."""

    def __init__(self, root: Path, secret: str):
        self.root = root
        self._secret = "presigned:" + secret

    def _signature(self, *parts: str) -> str:
        return _hmac(self._secret, "\n".join(parts)).hex()

    def upload(
        self, request: Request, key: str, content_type: str, max_size: int, ttl: timedelta
    ) -> PresignedUpload:
        if _PRESIGNED_KEY.fullmatch(key) is None:
            raise ValueError(f"not a storable key: {key!r}")
        if max_size > PRESIGNED_UPLOAD_MAX_BYTES:
            raise ValueError(f"a local upload takes at most {describe_size(PRESIGNED_UPLOAD_MAX_BYTES)}")
        expires_at = datetime.now(UTC) + ttl
        fields = {
            "key": key,
            "content_type": content_type,
            "max_size": str(max_size),
            "expires": str(int(expires_at.timestamp())),
        }
        fields["signature"] = self._signature("upload", *fields.values())
        return PresignedUpload(absolute_url(request, "presigned_upload"), fields, expires_at)

    def download_url(self, request: Request, key: str, ttl: timedelta) -> str:
        expires = str(int((datetime.now(UTC) + ttl).timestamp()))
        query = urlencode({"expires": expires, "signature": self._signature("download", key, expires)})
        return f"{absolute_url(request, 'presigned_download', key=key)}?{query}"

    def check(self, signature: str, *parts: str) -> None:
        if not hmac.compare_digest(signature, self._signature(*parts)):
            raise Forbidden("Invalid signature")

    def path(self, key: str) -> Path:
        if _PRESIGNED_KEY.fullmatch(key) is None:
            raise NotFound("No such file")
        return self.root / key

    async def remove(self, key: str) -> None:
        """Delete the file; nothing for one that was never uploaded."""
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)


def _expired(expires: str) -> bool:
    return not expires.isdigit() or int(expires) < datetime.now(UTC).timestamp()


@body_limit(PRESIGNED_UPLOAD_MAX_BYTES + FORM_OVERHEAD)
async def receive_presigned_upload(request: Request) -> Response:
    """`POST /files/presigned`: a multipart form with the signed fields and `file`; 204."""
    presigner: LocalPresigner = request.app.state.presigner
    async with request.form(max_files=1, max_fields=10) as form:
        fields = {
            name: form.get(name) for name in ("key", "content_type", "max_size", "expires", "signature")
        }
        upload = form.get("file")
        if not all(isinstance(value, str) for value in fields.values()) or not isinstance(
            upload, StarletteUpload
        ):
            raise BadRequest("Send the signed fields and one `file`")
        values: dict[str, str] = fields  # type: ignore[assignment]
        presigner.check(
            values["signature"],
            "upload",
            values["key"],
            values["content_type"],
            values["max_size"],
            values["expires"],
        )
        if _expired(values["expires"]):
            raise Forbidden("The upload form has expired")
        content_type = _base_type(values["content_type"])
        if _base_type(upload.content_type or "") != content_type:
            raise UnsupportedMediaType(f"The file must be {values['content_type']}")
        target = presigner.path(values["key"])
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        handle, temporary = await asyncio.to_thread(_temporary_file, target.parent)
        try:
            first = True
            async for chunk in iter_upload(upload, int(values["max_size"])):  # type: ignore[arg-type]
                # An image must be one: its first bytes, not the part's header, say what it is.
                if first and content_type in _DETECTABLE and not image_matches(chunk[:12], content_type):
                    raise UnsupportedMediaType(f"The file is not a {content_type} image")
                first = False
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_sync, handle)
            await asyncio.to_thread(os.replace, temporary, target)
        except BaseException:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise
        finally:
            handle.close()
    return Response(status_code=204)


async def serve_presigned_file(request: Request) -> Response:
    """`GET /files/presigned/{key}?expires=...&signature=...`: a privately stored file."""
    presigner: LocalPresigner = request.app.state.presigner
    key = request.path_params["key"]
    expires = request.query_params.get("expires", "")
    presigner.check(request.query_params.get("signature", ""), "download", key, expires)
    if _expired(expires):
        raise Forbidden("The link has expired")
    path = presigner.path(key)
    if not await asyncio.to_thread(path.is_file):
        raise NotFound("No such file")
    extension = key.rpartition(".")[2]
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    return FileResponse(
        path, media_type=_CONTENT_TYPES.get(extension, "application/octet-stream"), headers=headers
    )


class S3Presigner:
    """Upload forms and download links an S3-compatible store checks itself, signed by
    botocore: a SigV4 POST policy that fixes the bucket, key, content type and size range, and
    a SigV4 query-signed GET; both expire. Signing is local CPU work (HMACs, no request), so it
    runs on the event loop; deleting is a request to the store, made in a thread (botocore's
    client is thread-safe and blocking)."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        region: str,
        access_key: str | None,
        secret_key: str | None,
        prefix: str = "",
    ):
        self.bucket = bucket
        self.prefix = prefix
        # Path-style addressing (`<endpoint>/<bucket>/<key>`): every S3-compatible store
        # (MinIO, Ceph, R2) serves it, and a bucket name needs no DNS entry of its own.
        self._client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def upload(
        self, request: Request, key: str, content_type: str, max_size: int, ttl: timedelta
    ) -> PresignedUpload:
        expires_at = datetime.now(UTC) + ttl
        form = self._client.generate_presigned_post(
            Bucket=self.bucket,
            Key=self.prefix + key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_size]],
            ExpiresIn=_seconds(ttl),
        )
        return PresignedUpload(form["url"], form["fields"], expires_at)

    def download_url(self, request: Request, key: str, ttl: timedelta) -> str:
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.prefix + key}, ExpiresIn=_seconds(ttl)
        )

    async def remove(self, key: str) -> None:
        """Delete the object; deleting one that is not there succeeds too (S3's own rule)."""
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self.prefix + key)


def _seconds(ttl: timedelta) -> int:
    return int(ttl.total_seconds())


Presigner = LocalPresigner | S3Presigner


def presigner(settings: Any, slug: str) -> Presigner:
    """The app's S3-compatible store when `KEEL_S3_BUCKET` is set, else its local folder."""
    if settings.s3_bucket:
        return S3Presigner(
            endpoint_url=settings.s3_endpoint_url,
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            prefix=f"{slug}/",
        )
    return LocalPresigner(settings.data_dir / "uploads" / slug / "presigned", settings.secret_key)


async def _request_presigner(request: Request) -> Presigner:
    return request.app.state.presigner


# Where clients upload directly (`KeelApp.build` attaches it).
Presigned = Annotated[Presigner, Depends(_request_presigner)]
