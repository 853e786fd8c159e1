"""Uploads, downloads and deletes against a real S3-protocol server (moto's, in a thread on a
free port): the presigned form is POSTed to it and the file read back through the presigned GET,
as a client does."""

import base64
import json
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import botocore.session
import httpx
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from keel.apps import load_app
from keel.apps.coach.tasks import queue
from keel.core.db import Database
from keel.core.jobs import Worker
from keel.server import build_server
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import Member
from tests.databases import empty_tables

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
BUCKET = "coach-uploads"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    admin = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    admin.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_settings(settings: Settings, s3_endpoint: str) -> Settings:
    return settings.model_copy(
        update={
            "s3_bucket": BUCKET,
            "s3_endpoint_url": s3_endpoint,
            "s3_access_key": "testing",
            "s3_secret_key": "testing",
        }
    )


@pytest.fixture
async def s3_coach(coach_database: Database, s3_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    server = build_server(s3_settings, only="coach", databases={"coach": coach_database})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://coach.test"
    ) as client:
        yield client
    await empty_tables(coach_database, load_app("coach").metadata)


async def _upload(client: httpx.AsyncClient, who: Member) -> dict:
    body = {"filename": "meal.png", "content_type": "image/png", "size": len(PNG)}
    presigned = (await client.post("/api/v1/files/presign", json=body, headers=who.headers)).json()
    async with httpx.AsyncClient() as s3:
        uploaded = await s3.post(
            presigned["url"], data=presigned["fields"], files={"file": ("meal.png", PNG, "image/png")}
        )
    assert uploaded.status_code == 204, uploaded.text
    return presigned


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as s3:
        return await s3.get(url)


async def test_a_presigned_post_uploads_and_a_presigned_get_reads_it_back(
    s3_coach: httpx.AsyncClient, s3_endpoint: str
) -> None:
    who = await builders.member(s3_coach)
    presigned = await _upload(s3_coach, who)
    assert presigned["url"] == f"{s3_endpoint}/{BUCKET}"
    fields = presigned["fields"]
    assert fields["key"] == f"coach/{presigned['key']}"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["x-amz-credential"].startswith("testing/")
    assert fields["x-amz-credential"].endswith("/us-east-1/s3/aws4_request")
    # The policy S3 enforces: this bucket and key, this type, at most the size asked for.
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"bucket": BUCKET} in policy["conditions"]
    assert {"key": fields["key"]} in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert ["content-length-range", 1, len(PNG)] in policy["conditions"]

    assert urlsplit(presigned["download_url"]).path == f"/{BUCKET}/{fields['key']}"
    downloaded = await _get(presigned["download_url"])
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == PNG


async def test_a_renewed_link_and_the_export_read_the_object(s3_coach: httpx.AsyncClient) -> None:
    who = await builders.member(s3_coach)
    presigned = await _upload(s3_coach, who)
    link = (await s3_coach.get(f"/api/v1/files/{presigned['key']}/link", headers=who.headers)).json()
    assert (await _get(link["url"])).content == PNG
    other = await builders.member(s3_coach)
    theirs = await s3_coach.get(f"/api/v1/files/{presigned['key']}/link", headers=other.headers)
    assert theirs.status_code == 404
    [listed] = (await s3_coach.get("/api/v1/me/export", headers=who.headers)).json()["files"]
    assert (await _get(listed["download_url"])).content == PNG


async def test_erasing_the_account_deletes_its_objects(
    s3_coach: httpx.AsyncClient, coach_database: Database, s3_settings: Settings
) -> None:
    who = await builders.member(s3_coach)
    mine = [await _upload(s3_coach, who), await _upload(s3_coach, who)]
    other = await builders.member(s3_coach)
    theirs = await _upload(s3_coach, other)
    token = (await s3_coach.post("/api/v1/me/deletion", headers=who.headers)).json()["confirmation_token"]
    erased = await s3_coach.request(
        "DELETE", "/api/v1/me", json={"confirmation_token": token}, headers=who.headers
    )
    assert erased.status_code == 204
    await Worker(queue, coach_database, s3_settings).run_until_idle()
    for presigned in mine:
        assert (await _get(presigned["download_url"])).status_code == 404
    assert (await _get(theirs["download_url"])).content == PNG
