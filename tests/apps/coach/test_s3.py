"""Uploads, downloads and deletes against an S3 server that checks signatures and POST policies as
S3 does (tests/s3_server.py: moto behind a verifying front, in a thread on a free port): the
presigned form is POSTed to it and the file read back through the presigned GET, as a client
does, and a form, link or delete that S3 would refuse is refused."""

import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import botocore.session
import httpx
import pytest
from botocore.config import Config
from sqlalchemy import select

from keel.apps import load_app
from keel.apps.coach.models import Job
from keel.apps.coach.services.files import DOWNLOAD_TTL, UPLOAD_TTL
from keel.apps.coach.tasks import queue
from keel.core.db import Database
from keel.core.jobs import Worker
from keel.server import build_server
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import Member
from tests.databases import empty_tables
from tests.s3_server import S3Front

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
BUCKET = "coach-uploads"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Front]:
    with S3Front({"testing": "testing"}) as server:
        admin = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),
        )
        admin.create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def s3_endpoint(s3_server: S3Front) -> Iterator[str]:
    yield s3_server.url
    s3_server.clock = S3Front.real_clock  # a test that moved the clock puts it back


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


async def _presign(client: httpx.AsyncClient, who: Member, size: int = len(PNG)) -> dict:
    body = {"filename": "meal.png", "content_type": "image/png", "size": size}
    presigned = await client.post("/api/v1/files/presign", json=body, headers=who.headers)
    assert presigned.status_code == 200, presigned.text
    return presigned.json()


async def _post_form(presigned: dict, fields: dict[str, str], data: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as s3:
        return await s3.post(presigned["url"], data=fields, files={"file": ("meal.png", data, "image/png")})


async def _upload(client: httpx.AsyncClient, who: Member) -> dict:
    presigned = await _presign(client, who)
    uploaded = await _post_form(presigned, presigned["fields"], PNG)
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


# --- what S3 refuses -------------------------------------------------------------------------
#
# Each form, link or delete below is one a client could send; if the server stopped checking
# what S3 checks, moto would store, serve or delete, and the assertion would fail. Refusals that
# need one member and one object share a test: each test costs a server and a registration.

OTHER_PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 200


def _refusal(response: httpx.Response) -> tuple[int, str]:
    """The status and the `<Code>` of S3's XML error."""
    return response.status_code, response.text.partition("<Code>")[2].partition("</Code>")[0]


def _flip_last(hex_digits: str) -> str:
    return hex_digits[:-1] + ("0" if hex_digits[-1] != "0" else "1")


async def test_an_upload_form_tampered_with_too_large_or_expired_is_refused(
    s3_coach: httpx.AsyncClient, s3_server: S3Front
) -> None:
    presigned = await _presign(s3_coach, await builders.member(s3_coach), size=len(PNG))
    fields = presigned["fields"]
    forged = {**fields, "x-amz-signature": _flip_last(fields["x-amz-signature"])}
    assert _refusal(await _post_form(presigned, forged, PNG)) == (403, "SignatureDoesNotMatch")
    # The policy signed for at most len(PNG) bytes; a longer type or any other field it does
    # not name would be refused too.
    assert _refusal(await _post_form(presigned, fields, PNG + b"\x00")) == (400, "EntityTooLarge")
    retyped = {**fields, "Content-Type": "text/html"}
    assert _refusal(await _post_form(presigned, retyped, PNG)) == (403, "AccessDenied")
    extra = {**fields, "Content-Disposition": "inline"}
    assert _refusal(await _post_form(presigned, extra, PNG)) == (403, "AccessDenied")
    s3_server.clock = lambda: S3Front.real_clock() + UPLOAD_TTL + timedelta(seconds=1)
    expired = await _post_form(presigned, fields, PNG)
    assert _refusal(expired) == (403, "AccessDenied")
    assert "Policy expired" in expired.text
    s3_server.clock = S3Front.real_clock
    assert (await _get(presigned["download_url"])).status_code == 404  # nothing was stored


async def test_an_upload_form_turned_to_another_key_is_refused(s3_coach: httpx.AsyncClient) -> None:
    # The attack: a form signed for my key, pointed at someone else's file to overwrite it.
    theirs = await _upload(s3_coach, await builders.member(s3_coach))
    mine = await _presign(s3_coach, await builders.member(s3_coach))
    refused = await _post_form(mine, {**mine["fields"], "key": theirs["fields"]["key"]}, OTHER_PNG)
    assert _refusal(refused) == (403, "AccessDenied")
    assert "Policy Condition failed" in refused.text
    assert (await _get(theirs["download_url"])).content == PNG


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**dict(parse_qsl(parts.query)), **changes})))


async def test_a_download_link_tampered_with_or_past_its_hour_is_refused(
    s3_coach: httpx.AsyncClient, s3_server: S3Front
) -> None:
    who = await builders.member(s3_coach)
    link, other = (await _upload(s3_coach, who))["download_url"], await _upload(s3_coach, who)
    # The signature covers the key, the expiry and itself: none can be changed.
    elsewhere = urlunsplit(urlsplit(link)._replace(path=f"/{BUCKET}/{other['fields']['key']}"))
    assert _refusal(await _get(elsewhere)) == (403, "SignatureDoesNotMatch")
    query = dict(parse_qsl(urlsplit(link).query))
    longer = _with_query(link, **{"X-Amz-Expires": str(int(query["X-Amz-Expires"]) * 24)})
    assert _refusal(await _get(longer)) == (403, "SignatureDoesNotMatch")
    forged = _with_query(link, **{"X-Amz-Signature": _flip_last(query["X-Amz-Signature"])})
    assert _refusal(await _get(forged)) == (403, "SignatureDoesNotMatch")
    # Without a signature a read is anonymous, and the bucket is private.
    assert _refusal(await _get(link.partition("?")[0])) == (403, "AccessDenied")
    s3_server.clock = lambda: S3Front.real_clock() + DOWNLOAD_TTL + timedelta(seconds=1)
    expired = await _get(link)
    assert _refusal(expired) == (403, "AccessDenied")
    assert "Request has expired" in expired.text
    s3_server.clock = S3Front.real_clock
    assert (await _get(link)).content == PNG  # the link itself was good


async def test_a_delete_signed_with_a_wrong_secret_is_refused(
    s3_coach: httpx.AsyncClient, coach_database: Database, s3_settings: Settings
) -> None:
    who = await builders.member(s3_coach)
    presigned = await _upload(s3_coach, who)
    token = (await s3_coach.post("/api/v1/me/deletion", headers=who.headers)).json()["confirmation_token"]
    erased = await s3_coach.request(
        "DELETE", "/api/v1/me", json={"confirmation_token": token}, headers=who.headers
    )
    assert erased.status_code == 204
    wrong = s3_settings.model_copy(update={"s3_secret_key": "not-the-secret"})
    await Worker(queue, coach_database, wrong).run_until_idle()
    assert (await _get(presigned["download_url"])).content == PNG
    async with coach_database.sessionmaker() as session:
        job = (await session.execute(select(Job).where(Job.kind == "files.remove"))).scalar_one()
    assert (job.status, job.attempts) == ("queued", 1)  # retried later, as for a store that is down
    assert "SignatureDoesNotMatch" in (job.last_error or "")
