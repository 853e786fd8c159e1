from urllib.parse import urlsplit

import httpx

from tests.apps.queue.builders import Account
from tests.images import FIVE_MB, jpeg, png, webp


async def test_images_are_judged_by_content_and_served_back(
    queue: httpx.AsyncClient, customer: Account
) -> None:
    for image in (png(), jpeg(), webp()):
        # The name and type the client claims are ignored.
        response = await queue.post(
            "/upload/avatar", files={"file": ("photo.gif", image, "image/gif")}, headers=customer.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["message"] == "頭像上傳成功"
        assert "uploaded_at" in body
        served = await queue.get(urlsplit(body["avatar_url"]).path)
        assert served.status_code == 200
        assert served.content == image


async def test_other_files_are_400_and_large_ones_413(queue: httpx.AsyncClient, customer: Account) -> None:
    text = await queue.post(
        "/upload/avatar",
        files={"file": ("a.png", b"just text, named png", "image/png")},
        headers=customer.headers,
    )
    assert text.status_code == 400
    assert "JPEG, PNG or WebP" in text.json()["detail"]
    large = await queue.post(
        "/upload/avatar", files={"file": ("big.png", png(FIVE_MB + 1), "image/png")}, headers=customer.headers
    )
    assert large.status_code == 413
    exact = await queue.post(
        "/upload/avatar", files={"file": ("max.png", png(FIVE_MB), "image/png")}, headers=customer.headers
    )
    assert exact.status_code == 200
    assert (
        await queue.post("/upload/avatar", files={"file": ("a.png", png(), "image/png")})
    ).status_code == 401
    assert (await queue.post("/upload/avatar", headers=customer.headers)).status_code == 422
