import time
from urllib.parse import urlsplit

import httpx

from tests.apps.coach import builders
from tests.apps.coach.builders import Member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
# An iPhone photo's first bytes: an ISO-BMFF `ftyp` box with the HEIC brand.
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200


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


async def _upload(coach: httpx.AsyncClient, who: Member, content: bytes = PNG, **overrides) -> dict:
    presigned = (await _presign(coach, who, size=len(content), **overrides)).json()
    content_type = overrides.get("content_type", "image/png")
    files = {"file": ("upload", content, content_type)}
    uploaded = await coach.post(_path(presigned["url"]), data=presigned["fields"], files=files)
    assert uploaded.status_code == 204, uploaded.text
    return presigned


async def test_an_iphone_heic_photo_is_accepted_by_its_bytes(coach, member: Member) -> None:
    presigned = await _upload(coach, member, HEIC, filename="IMG_0001.HEIC", content_type="image/heic")
    assert presigned["key"].endswith(".heic")
    downloaded = await coach.get(_path(presigned["download_url"]))
    assert downloaded.status_code == 200 and downloaded.content == HEIC
    assert downloaded.headers["content-type"] == "image/heic"
    # A phone may call the same photo HEIF.
    await _upload(coach, member, HEIC, content_type="image/heif")
    # Bytes that are not the image the form was signed for are refused, whatever the part says.
    for content_type, content in (("image/heic", PNG), ("image/png", HEIC)):
        presigned = (await _presign(coach, member, content_type=content_type, size=len(content))).json()
        refused = await coach.post(
            _path(presigned["url"]),
            data=presigned["fields"],
            files={"file": ("upload", content, content_type)},
        )
        assert refused.status_code == 415, (content_type, refused.text)
        assert refused.json()["code"] == "unsupported_media_type"


async def test_an_owner_renews_a_link_and_nobody_else_can(coach, member: Member) -> None:
    presigned = await _upload(coach, member)
    renewed = await coach.get(f"/api/v1/files/{presigned['key']}/link", headers=member.headers)
    assert renewed.status_code == 200, renewed.text
    link = renewed.json()
    assert link["key"] == presigned["key"]
    assert link["expires_at"] > presigned["expires_at"]
    downloaded = await coach.get(_path(link["url"]))
    assert downloaded.status_code == 200 and downloaded.content == PNG

    other = await builders.member(coach)
    theirs = await coach.get(f"/api/v1/files/{presigned['key']}/link", headers=other.headers)
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "not_found"
    missing = await coach.get(f"/api/v1/files/u{member.id}/nothing.png/link", headers=member.headers)
    assert missing.status_code == 404
    assert (await coach.get(f"/api/v1/files/{presigned['key']}/link")).status_code == 401


async def test_the_export_lists_the_files_with_fresh_links(coach, member: Member) -> None:
    presigned = await _upload(coach, member, filename="dinner.png")
    other = await builders.member(coach)
    await _upload(coach, other)
    exported = (await coach.get("/api/v1/me/export", headers=member.headers)).json()
    [listed] = exported["files"]
    assert listed["key"] == presigned["key"]
    assert listed["filename"] == "dinner.png"
    assert listed["content_type"] == "image/png" and listed["size"] == len(PNG)
    downloaded = await coach.get(_path(listed["download_url"]))
    assert downloaded.status_code == 200 and downloaded.content == PNG


async def test_erasing_the_account_removes_its_files(coach, member: Member, run_jobs) -> None:
    mine = await _upload(coach, member)
    other = await builders.member(coach)
    theirs = await _upload(coach, other)
    token = (await coach.post("/api/v1/me/deletion", headers=member.headers)).json()["confirmation_token"]
    erased = await coach.request(
        "DELETE", "/api/v1/me", json={"confirmation_token": token}, headers=member.headers
    )
    assert erased.status_code == 204
    await run_jobs()
    assert (await coach.get(_path(mine["download_url"]))).status_code == 404
    assert (await coach.get(_path(theirs["download_url"]))).status_code == 200
