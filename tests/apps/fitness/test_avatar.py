from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from keel.apps import load_app
from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.fitness import builders
from tests.apps.fitness.builders import Athlete
from tests.databases import empty_tables
from tests.images import FIVE_MB, jpeg, png, webp

AVATAR = "/api/v1/users/me/avatar"
ME = "/api/v1/users/me"


def uploads(settings: Settings) -> list[Path]:
    root = settings.data_dir / "uploads" / "fitness"
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


async def upload(
    client: httpx.AsyncClient,
    athlete: Athlete,
    data: bytes,
    name: str = "avatar.bin",
    kind: str = "image/png",
) -> httpx.Response:
    return await client.post(AVATAR, files={"file": (name, data, kind)}, headers=athlete.headers)


@pytest.mark.parametrize(
    ("make", "content_type"), [(png, "image/png"), (jpeg, "image/jpeg"), (webp, "image/webp")]
)
async def test_an_image_is_recognised_stored_and_served_back(
    fitness: httpx.AsyncClient, athlete: Athlete, make, content_type: str
) -> None:
    image = make()
    # The client's name and type are wrong on purpose: only the bytes count.
    response = await upload(fitness, athlete, image, name="photo.gif", kind="text/plain")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == athlete.id and "stats" in body
    url = urlsplit(body["avatar_url"])
    assert url.netloc == "fitness.test" and url.path.startswith("/files/")
    assert url.path.endswith("." + content_type.removeprefix("image/").replace("jpeg", "jpg"))
    served = await fitness.get(url.path)
    assert served.status_code == 200
    assert served.content == image
    assert served.headers["content-type"] == content_type
    assert (await fitness.get(ME, headers=athlete.headers)).json()["avatar_url"] == body["avatar_url"]


async def test_the_same_image_sent_twice_is_stored_once(
    fitness: httpx.AsyncClient, athlete: Athlete, settings: Settings
) -> None:
    image, before = png(), uploads(settings)
    first = await upload(fitness, athlete, image)
    again = await upload(fitness, athlete, image, name="retry.png")
    assert first.status_code == again.status_code == 200
    assert first.json()["avatar_url"] == again.json()["avatar_url"]
    assert len(uploads(settings)) == len(before) + 1
    other = await builders.athlete(fitness)
    assert (await upload(fitness, other, image)).json()["avatar_url"] == first.json()["avatar_url"]
    assert len(uploads(settings)) == len(before) + 1


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00;", "avatar.gif"),
        (b"definitely an image, trust me", "avatar.png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "avatar.png"),
        (b"RIFF\x04\x00\x00\x00WAVE", "avatar.webp"),
        (b"", "avatar.png"),
    ],
)
async def test_anything_but_jpeg_png_or_webp_is_refused(
    fitness: httpx.AsyncClient, athlete: Athlete, settings: Settings, data: bytes, name: str
) -> None:
    before = uploads(settings)
    response = await upload(fitness, athlete, data, name=name, kind="image/png")
    assert response.status_code == 415
    detail = response.json()["detail"]
    assert all(kind in detail for kind in ("image/jpeg", "image/png", "image/webp"))
    assert uploads(settings) == before
    assert (await fitness.get(ME, headers=athlete.headers)).json()["avatar_url"] is None


async def test_five_megabytes_are_accepted_and_one_byte_more_is_refused(
    fitness: httpx.AsyncClient, athlete: Athlete, settings: Settings
) -> None:
    before = uploads(settings)
    too_large = await upload(fitness, athlete, png(padding=FIVE_MB + 1))
    assert too_large.status_code == 413
    assert "5 MB" in too_large.json()["detail"]
    assert uploads(settings) == before
    assert (await fitness.get(ME, headers=athlete.headers)).json()["avatar_url"] is None

    exactly = png(padding=FIVE_MB)
    accepted = await upload(fitness, athlete, exactly)
    assert accepted.status_code == 200, accepted.text
    served = await fitness.get(urlsplit(accepted.json()["avatar_url"]).path)
    assert len(served.content) == FIVE_MB and served.content == exactly


async def test_an_upload_needs_a_signed_in_user_and_a_file(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    anonymous = await fitness.post(AVATAR, files={"file": ("a.png", png(), "image/png")})
    assert anonymous.status_code == 401
    missing = await fitness.post(
        AVATAR, files={"photo": ("a.png", png(), "image/png")}, headers=athlete.headers
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "file"]
    not_a_file = await fitness.post(AVATAR, data={"file": "iVBORw0KGgo="}, headers=athlete.headers)
    assert not_a_file.status_code == 422


@pytest.mark.parametrize(
    ("public_base_url", "prefix"),
    [
        (None, "http://keel.test/fitness/files/"),
        ("https://cdn.example.com/", "https://cdn.example.com/fitness/files/"),
    ],
)
async def test_a_mounted_app_answers_urls_under_its_own_mount(
    fitness_database: Database, settings: Settings, public_base_url: str | None, prefix: str
) -> None:
    configured = settings.model_copy(update={"public_base_url": public_base_url})
    server = build_server(configured, databases={"fitness": fitness_database})
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server), base_url="http://keel.test/fitness"
        ) as client:
            athlete = await builders.athlete(client)
            image = webp()
            response = await upload(client, athlete, image)
            assert response.status_code == 200, response.text
            url = response.json()["avatar_url"]
            assert url.startswith(prefix)
            path = urlsplit(url).path
            served = await client.get(f"http://keel.test{path}")
            assert (served.status_code, served.content) == (200, image)
            assert (
                await client.get(f"http://keel.test{path.replace('/fitness/', '/shop/')}")
            ).status_code == 404
    finally:
        await empty_tables(fitness_database, load_app("fitness").metadata)
