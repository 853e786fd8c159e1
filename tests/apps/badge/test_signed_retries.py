"""Issue 17 item 3: retries that firmware makes. A signed GET or HEAD may be sent again within
the window; a state-changing request sent again with the same signature runs once, on any
process, and is answered the first answer."""

import asyncio
import time

import httpx
import orjson

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge
from tests.apps.badge.test_versions import FIRMWARE, publish


def _beat(device: Badge) -> tuple[str, bytes, dict[str, str]]:
    target = f"/api/v1/devices/{device.device_id}/heartbeat"
    body = orjson.dumps(builders.heartbeat())
    return target, body, device.signed("POST", target, body)


async def _stored_heartbeats(client: httpx.AsyncClient, admin: Account, device: Badge) -> int:
    history = await client.get(f"/api/v1/devices/{device.device_id}/heartbeats", headers=admin.headers)
    assert history.status_code == 200, history.text
    return len(history.json())


async def test_the_same_signed_get_twice_is_answered_twice(badge: httpx.AsyncClient, device: Badge) -> None:
    target = f"/api/v1/devices/{device.device_id}"
    headers = device.signed("GET", target)
    first, again = [await badge.get(target, headers=headers) for _ in range(2)]
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json()["device_id"] == device.device_id


async def test_a_download_resumes_with_the_same_signature(
    badge: httpx.AsyncClient, admin: Account, device: Badge
) -> None:
    version = (await publish(badge, admin, "2.0.0")).json()
    target = f"/api/v1/versions/{version['id']}/download"
    headers = device.signed("GET", target)
    whole = await badge.get(target, headers=headers)
    assert whole.status_code == 200 and whole.content == FIRMWARE + b"2.0.0"
    # The connection dropped after 1,000 bytes: the firmware asks for the rest, same signature.
    rest = await badge.get(target, headers={**headers, "Range": "bytes=1000-"})
    assert rest.status_code == 206, rest.text
    assert rest.content == whole.content[1000:]
    assert rest.headers["content-range"] == f"bytes 1000-{len(whole.content) - 1}/{len(whole.content)}"
    # Asked first for its size and checksum, twice with one signature (a boot-time double check).
    probe = device.signed("HEAD", target)
    for _ in range(2):
        head = await badge.head(target, headers=probe)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(whole.content))
        assert head.headers["x-checksum"] == whole.headers["x-checksum"]


async def test_a_resent_post_runs_once_and_gets_the_first_answer(
    badge: httpx.AsyncClient, admin: Account, device: Badge
) -> None:
    target, body, headers = _beat(device)
    first = await badge.post(target, content=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await badge.post(target, content=body, headers=headers)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert await _stored_heartbeats(badge, admin, device) == 1
    # Signed anew (another second), the same payload is another heartbeat.
    fresh = device.signed("POST", target, body, at=int(time.time()) - 5)
    assert (await badge.post(target, content=body, headers=fresh)).status_code == 201
    assert await _stored_heartbeats(badge, admin, device) == 2


async def test_a_concurrent_repeat_is_409_or_the_replay(
    badge: httpx.AsyncClient, admin: Account, device: Badge
) -> None:
    target, body, headers = _beat(device)
    answers = await asyncio.gather(*(badge.post(target, content=body, headers=headers) for _ in range(4)))
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {201, 409} and statuses[0] == 201, [a.text for a in answers]
    assert len({answer.content for answer in answers if answer.status_code == 201}) == 1
    assert await _stored_heartbeats(badge, admin, device) == 1
    # Once the first has answered, every repeat is its answer.
    assert (await badge.post(target, content=body, headers=headers)).status_code == 201


async def test_the_seen_signatures_are_shared_by_every_server_process(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings, admin: Account, device: Badge
) -> None:
    # A second server of its own (its own app state, no memory shared), as another worker or
    # host would be, on the same database.
    other = build_server(settings, only="badge", databases={"badge": badge_database})
    target, body, headers = _beat(device)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other), base_url="http://b.test"
    ) as worker:
        first = await badge.post(target, content=body, headers=headers)
        again = await worker.post(target, content=body, headers=headers)
    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    assert await _stored_heartbeats(badge, admin, device) == 1


async def test_a_failed_request_is_run_again_when_resent(
    badge: httpx.AsyncClient, admin: Account, device: Badge
) -> None:
    # The update report of a version not yet published is 404, and nothing was kept of it:
    # sent again once the version exists, the same signed report runs and is stored.
    version_id = (await publish(badge, admin, "3.0.0")).json()["id"] + 1
    target = f"/api/v1/versions/{version_id}/report"
    body = orjson.dumps({"status": "success"})
    headers = device.signed("POST", target, body)
    assert (await badge.post(target, content=body, headers=headers)).status_code == 404
    assert (await publish(badge, admin, "3.1.0")).json()["id"] == version_id
    stored = await badge.post(target, content=body, headers=headers)
    assert stored.status_code == 201, stored.text
    assert (await badge.post(target, content=body, headers=headers)).json() == stored.json()


async def test_a_changed_body_or_an_old_timestamp_is_still_refused(
    badge: httpx.AsyncClient, device: Badge
) -> None:
    target, body, headers = _beat(device)
    assert (await badge.post(target, content=body, headers=headers)).status_code == 201
    tampered = await badge.post(target, content=body.replace(b"45.2", b"99.9"), headers=headers)
    assert tampered.status_code == 401 and tampered.json()["detail"] == "Invalid request signature"
    stale = device.signed("POST", target, body, at=int(time.time()) - 301)
    expired = await badge.post(target, content=body, headers=stale)
    assert expired.status_code == 401 and "window" in expired.json()["detail"]
    old_get = device.signed("GET", f"/api/v1/devices/{device.device_id}", at=int(time.time()) - 301)
    assert (await badge.get(f"/api/v1/devices/{device.device_id}", headers=old_get)).status_code == 401


async def test_openapi_documents_the_signature_headers_on_device_operations(badge: httpx.AsyncClient) -> None:
    paths = (await badge.get("/openapi.json")).json()["paths"]

    def headers(path: str, method: str) -> set[str]:
        parameters = paths[path][method].get("parameters", [])
        return {p["name"] for p in parameters if p["in"] == "header"}

    device_operations = [
        ("/api/v1/devices/{device_id}/heartbeat", "post"),
        ("/api/v1/devices/{device_id}/config/reported", "post"),
        ("/api/v1/devices/{device_id}", "get"),
        ("/api/v1/devices", "get"),
        ("/api/v1/versions/check", "get"),
        ("/api/v1/versions/{version_id}/download", "get"),
        ("/api/v1/versions/{version_id}/report", "post"),
        ("/api/v1/logs", "get"),
        ("/api/v1/auth/logout", "post"),
    ]
    for path, method in device_operations:
        assert {"X-Timestamp", "X-Signature"} <= headers(path, method), (path, method)
    # Operations no device may call do not ask for them.
    for path, method in [("/api/v1/versions", "post"), ("/api/v1/devices/{device_id}/config", "put")]:
        assert not {"X-Timestamp", "X-Signature"} & headers(path, method), (path, method)
