"""The core's file storage: content-addressed saves, size-limited reads, image detection, and the
read-only /files route every app serves (exercised through the shop, which has no upload)."""

import asyncio
import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import UploadFile

from keel.core.errors import PayloadTooLarge
from keel.core.storage import LocalStorage, detect_image_type, read_upload
from keel.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(16)


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "uploads" / "demo")


@pytest.fixture
def shop_storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.data_dir / "uploads" / "shop")


async def test_a_key_is_the_contents_hash_sharded_with_the_types_extension(storage: LocalStorage) -> None:
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
    key = await storage.save(data, "image/png")
    sha = hashlib.sha256(data).hexdigest()
    assert key == f"{sha[:2]}/{sha[2:4]}/{sha}.png"
    assert (storage.root / key).read_bytes() == data
    assert await storage.save(b"firmware", "application/octet-stream; version=2") != key
    assert (await storage.save(b"<svg onload=alert(1)>", "image/svg+xml")).endswith(".bin")


async def test_the_same_bytes_are_stored_once_even_when_sent_at_the_same_time(storage: LocalStorage) -> None:
    data = os.urandom(300_000)
    keys = await asyncio.gather(*(storage.save(data, "image/webp") for _ in range(5)))
    assert len(set(keys)) == 1
    assert await storage.save(data, "image/webp") == keys[0]
    assert files_under(storage.root) == [storage.root / keys[0]]  # and no temporary file left


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_stream_is_stored_under_the_key_its_bytes_would_have(storage: LocalStorage) -> None:
    data = os.urandom(10_500)
    key = await storage.save(chunks_of(data), "application/octet-stream", limit=len(data))
    assert key == await storage.save(data, "application/octet-stream")
    assert (storage.root / key).read_bytes() == data
    assert files_under(storage.root) == [storage.root / key]


async def test_a_stream_past_its_limit_is_refused_and_leaves_nothing(storage: LocalStorage) -> None:
    with pytest.raises(PayloadTooLarge, match=r"1 KB \(1,024 bytes\)"):
        await storage.save(chunks_of(os.urandom(1025), 100), "application/octet-stream", limit=1024)
    assert files_under(storage.root) == []


@pytest.mark.parametrize(
    ("size", "known_size"), [(4096, None), (4096, 4096), (4097, None), (4097, 4097), (0, None)]
)
async def test_an_upload_is_read_up_to_its_limit(size: int, known_size: int | None) -> None:
    data = os.urandom(size)
    upload = UploadFile(io.BytesIO(data), size=known_size, filename="x.bin")
    if size > 4096:
        with pytest.raises(PayloadTooLarge, match=r"at most 4 KB \(4,096 bytes\)"):
            await read_upload(upload, 4096)
    else:
        assert await read_upload(upload, 4096) == data


async def test_reading_an_upload_past_its_limit_stops_at_the_limit() -> None:
    class Recording(io.BytesIO):
        largest = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            Recording.largest = max(Recording.largest, self.tell())
            return chunk

    with pytest.raises(PayloadTooLarge):
        await read_upload(UploadFile(Recording(os.urandom(1_000_000)), filename="big"), 100_000)
    assert Recording.largest == 100_001


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\r", "image/png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8L", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"\x89PNG\r\n\x1a", None),
        (b"<svg xmlns=", None),
        (b"", None),
    ],
)
def test_images_are_recognised_by_their_first_bytes(head: bytes, expected: str | None) -> None:
    assert detect_image_type(head) == expected


async def test_a_stored_file_is_served_with_its_type_and_a_long_cache(
    shop: httpx.AsyncClient, shop_storage: LocalStorage
) -> None:
    key = await shop_storage.save(PNG, "image/png")
    response = await shop.get(f"/files/{key}")
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    etag = response.headers["etag"]
    assert etag == f'"{hashlib.sha256(PNG).hexdigest()}"'
    unchanged = await shop.get(f"/files/{key}", headers={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert (await shop.head(f"/files/{key}")).headers["content-length"] == str(len(PNG))
    assert (await shop.post(f"/files/{key}")).status_code == 405
    assert not any(path.startswith("/files") for path in (await shop.get("/openapi.json")).json()["paths"])


async def test_unknown_keys_are_a_json_404(shop: httpx.AsyncClient, shop_storage: LocalStorage) -> None:
    key = await shop_storage.save(os.urandom(64), "image/png")
    sha = key.split("/")[2].split(".")[0]
    for unknown in (
        f"{key[:-4]}.jpg",  # stored as .png
        f"00/00/{sha}.png",  # the wrong shard
        f"{key[:6]}{'0' * 64}.png",
        "nothing-here.png",
        "",
    ):
        response = await shop.get(f"/files/{unknown}")
        assert response.status_code == 404, unknown
        assert response.json() == {"detail": "No such file"}


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%2Fsecret.txt",
        "/files/%2E%2E/secret.txt",
        "/files/..%2F..%2Fuploads%2Fsecret.txt",
        "/files/..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/files/%2Fetc%2Fpasswd",
        "/files//etc/passwd",
        "/files/.incoming%2Fhalf.part",
    ],
)
async def test_keys_cannot_leave_the_apps_folder(
    shop: httpx.AsyncClient, shop_storage: LocalStorage, settings: Settings, path: str
) -> None:
    # Real files at the places a traversal would reach, so serving them would show.
    (settings.data_dir / "uploads").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "uploads" / "secret.txt").write_text("secret")
    (shop_storage.root / ".incoming").mkdir(parents=True, exist_ok=True)
    (shop_storage.root / ".incoming" / "half.part").write_text("half")
    response = await shop.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "No such file"}


@pytest.mark.parametrize(
    "key",
    ["../secret.txt", "../../shop.db", "/etc/passwd", "ab/cd/../../x", ".incoming/half.part", "AB/CD/x.png"],
)
def test_malformed_keys_have_no_path(storage: LocalStorage, key: str) -> None:
    assert storage.path(key) is None
