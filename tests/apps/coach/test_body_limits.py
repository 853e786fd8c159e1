"""A presigned local upload past the default body limit is received: the receiver's route
declares the largest file a local form may allow."""

from urllib.parse import urlsplit

import httpx

from tests.apps.coach.builders import Member

MiB = 1024 * 1024


async def test_a_presigned_upload_past_the_default_body_limit_is_received(
    coach: httpx.AsyncClient, member: Member
) -> None:
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * (3 * MiB)
    form = {"filename": "meal.png", "content_type": "image/png", "size": len(photo)}
    presigned = (await coach.post("/api/v1/files/presign", json=form, headers=member.headers)).json()
    upload = urlsplit(presigned["url"]).path
    files = {"file": ("meal.png", photo, "image/png")}
    assert (await coach.post(upload, data=presigned["fields"], files=files)).status_code == 204
    download = urlsplit(presigned["download_url"])
    assert (await coach.get(f"{download.path}?{download.query}")).content == photo
