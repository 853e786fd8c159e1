"""Firmware past the default body limit is published: its route declares the firmware's own."""

import hashlib
import os

import httpx

from tests.apps.badge.builders import Account

MiB = 1024 * 1024


async def test_firmware_past_the_default_body_limit_is_published(
    badge: httpx.AsyncClient, admin: Account
) -> None:
    firmware = os.urandom(3 * MiB)
    files = {"file": ("fw-2.0.0.bin", firmware, "application/octet-stream")}
    data = {"version_number": "2.0.0", "version_type": "stable"}
    response = await badge.post("/api/v1/versions", data=data, files=files, headers=admin.headers)
    assert response.status_code == 201, response.text
    assert response.json()["file_size"] == len(firmware)
    assert response.json()["checksum"] == hashlib.sha256(firmware).hexdigest()
    # Anything else on badge keeps the default.
    big = await badge.post(
        "/api/v1/auth/login", content=b" " * (MiB + 1), headers={"Content-Type": "application/json"}
    )
    assert big.status_code == 413
