import base64
import json
import time
from urllib.parse import urlsplit

import httpx

from tests.apps.coach.builders import Member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


async def _presign(coach: httpx.AsyncClient, who: Member, **overrides) -> httpx.Response:
    body = {"filename": "meal.png", "content_type": "image/png", "size": len(PNG), **overrides}
    return await coach.post("/api/v1/files/presign", json=body, headers=who.headers)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def test_a_presigned_form_uploads_and_a_signed_link_downloads(
    coach: httpx.AsyncClient, member: Member
) -> None:
    response = await _presign(coach, member)
    assert response.status_code == 200, response.text
    presigned = response.json()
    assert presigned["method"] == "POST"
    assert presigned["key"].startswith(f"u{member.id}/") and presigned["key"].endswith(".png")
    # The link works only once the file is there.
    assert (await coach.get(_path(presigned["download_url"]))).status_code == 404
    files = {"file": ("meal.png", PNG, "image/png")}
    uploaded = await coach.post(_path(presigned["url"]), data=presigned["fields"], files=files)
    assert uploaded.status_code == 204, uploaded.text
    downloaded = await coach.get(_path(presigned["download_url"]))
    assert downloaded.status_code == 200
    assert downloaded.content == PNG
    assert downloaded.headers["content-type"] == "image/png"


async def test_the_signature_fixes_key_type_size_and_expiry(coach, member: Member) -> None:
    presigned = (await _presign(coach, member, size=100)).json()
    url = _path(presigned["url"])
    too_big = await coach.post(url, data=presigned["fields"], files={"file": ("a.png", PNG, "image/png")})
    assert too_big.status_code == 413
    wrong_type = await coach.post(
        url, data=presigned["fields"], files={"file": ("a.pdf", b"%PDF", "application/pdf")}
    )
    assert wrong_type.status_code == 415
    other_key = {**presigned["fields"], "key": f"u{member.id + 1}/stolen.png"}
    assert (
        await coach.post(url, data=other_key, files={"file": ("a.png", PNG[:50], "image/png")})
    ).status_code == 403
    bigger = {**presigned["fields"], "max_size": "100000"}
    assert (
        await coach.post(url, data=bigger, files={"file": ("a.png", PNG, "image/png")})
    ).status_code == 403
    expired = {**presigned["fields"], "expires": str(int(time.time()) - 1)}
    assert (
        await coach.post(url, data=expired, files={"file": ("a.png", PNG[:50], "image/png")})
    ).status_code == 403
    assert (await coach.post(url, data=presigned["fields"])).status_code == 400
    tampered = presigned["download_url"].replace("signature=", "signature=0")
    assert (await coach.get(_path(tampered))).status_code == 403


async def test_presign_validates_type_and_size(coach, member: Member) -> None:
    for overrides in (
        {"content_type": "text/html"},
        {"size": 0},
        {"size": 10 * 1024 * 1024 + 1},
        {"filename": ""},
    ):
        response = await _presign(coach, member, **overrides)
        assert response.status_code == 422, overrides
    assert (await coach.post("/api/v1/files/presign", json={})).status_code == 401


async def test_an_s3_store_gets_a_sigv4_post_policy(coach, coach_database, settings) -> None:
    from keel.server import build_server
    from tests.apps.coach import builders

    s3 = settings.model_copy(
        update={
            "s3_bucket": "coach-uploads",
            "s3_endpoint_url": "https://s3.example.com",
            "s3_access_key": "AKID",
            "s3_secret_key": "secret",
        }
    )
    server = build_server(s3, only="coach", databases={"coach": coach_database})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://coach.test"
    ) as client:
        who = await builders.member(client)
        presigned = (await _presign(client, who)).json()
    assert presigned["url"] == "https://s3.example.com/coach-uploads"
    assert presigned["download_url"] is None
    fields = presigned["fields"]
    assert fields["key"] == f"coach/{presigned['key']}"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["x-amz-credential"].startswith("AKID/") and fields["x-amz-credential"].endswith(
        "/us-east-1/s3/aws4_request"
    )
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"bucket": "coach-uploads"} in policy["conditions"]
    assert ["content-length-range", 1, len(PNG)] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert len(fields["x-amz-signature"]) == 64
