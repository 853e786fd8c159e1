import time

import httpx
import orjson

from keel.server import build_server
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge


async def test_register_answers_credentials_once_and_refuses_duplicates(
    badge: httpx.AsyncClient, admin: Account, operator: Account
) -> None:
    created = await builders.register(
        badge, admin, device_id="luna_badge_x1", mac_address="00:11:22:33:44:55"
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["device_secret"] and body["device_token"] and body["status"] == "offline"
    detail = await badge.get("/api/v1/devices/luna_badge_x1", headers=admin.headers)
    assert detail.status_code == 200
    assert "device_secret" not in detail.json() and "secret_encrypted" not in detail.json()
    assert (await builders.register(badge, admin, device_id="luna_badge_x1")).status_code == 409
    assert (await builders.register(badge, operator)).status_code == 403
    assert (await builders.register(badge, admin, device_id="bad id!")).status_code == 422
    assert (await builders.register(badge, admin, mac_address="zz")).status_code == 422
    assert (await builders.register(badge, admin, user_id=999999)).status_code == 422


async def test_provisioning_key_registers_without_an_admin(
    badge: httpx.AsyncClient, badge_database, settings
) -> None:
    body = {"device_id": "self_made", "device_name": "Self"}
    # This server has no provisioning key: every key is wrong.
    refused = await badge.post("/api/v1/devices/register", json=body, headers={"X-Provisioning-Key": "guess"})
    assert refused.status_code == 401
    assert (await badge.post("/api/v1/devices/register", json=body)).status_code == 401
    server = build_server(
        settings.model_copy(update={"badge_provisioning_key": "k" * 32}),
        only="badge",
        databases={"badge": badge_database},
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://b.test"
    ) as client:
        wrong = await client.post(
            "/api/v1/devices/register", json=body, headers={"X-Provisioning-Key": "x" * 32}
        )
        right = await client.post(
            "/api/v1/devices/register", json=body, headers={"X-Provisioning-Key": "k" * 32}
        )
    assert wrong.status_code == 401
    assert right.status_code == 201, right.text


async def test_list_pages_and_follows_heartbeats_for_online(
    badge: httpx.AsyncClient, admin: Account, guest: Account
) -> None:
    badges = [await builders.badge(badge, admin) for _ in range(3)]
    beat = await badges[0].request(
        badge, "POST", f"/api/v1/devices/{badges[0].device_id}/heartbeat", builders.heartbeat()
    )
    assert beat.status_code == 201, beat.text
    page = (await badge.get("/api/v1/devices?page=1&limit=2", headers=guest.headers)).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["total_pages"] == 2
    online = (await badge.get("/api/v1/devices?status=online", headers=guest.headers)).json()
    assert [d["device_id"] for d in online["items"]] == [badges[0].device_id]
    assert online["items"][0]["status"] == "online"
    offline = (await badge.get("/api/v1/devices?status=offline", headers=guest.headers)).json()
    assert offline["total"] == 2
    assert (await badge.get("/api/v1/devices?status=asleep", headers=guest.headers)).status_code == 422
    assert (await badge.get("/api/v1/devices?limit=1000", headers=guest.headers)).status_code == 422
    detail = (await badge.get(f"/api/v1/devices/{badges[0].device_id}", headers=guest.headers)).json()
    assert detail["latest_heartbeat"]["cpu_usage"] == 45.2
    assert (await badge.get("/api/v1/devices/nope", headers=guest.headers)).status_code == 404


async def test_a_device_sees_only_itself(badge: httpx.AsyncClient, admin: Account) -> None:
    mine, other = await builders.badge(badge, admin), await builders.badge(badge, admin)
    listed = (await mine.request(badge, "GET", "/api/v1/devices")).json()
    assert [d["device_id"] for d in listed["items"]] == [mine.device_id]
    assert (await mine.request(badge, "GET", f"/api/v1/devices/{mine.device_id}")).status_code == 200
    assert (await mine.request(badge, "GET", f"/api/v1/devices/{other.device_id}")).status_code == 404
    sent = await mine.request(
        badge, "POST", f"/api/v1/devices/{other.device_id}/heartbeat", builders.heartbeat()
    )
    assert sent.status_code == 404
    assert (await mine.request(badge, "GET", f"/api/v1/logs?device_id={other.device_id}")).status_code == 404


async def test_signatures_good_bad_stale_repeated(badge: httpx.AsyncClient, device: Badge) -> None:
    target = f"/api/v1/devices/{device.device_id}/heartbeat"
    body = orjson.dumps(builders.heartbeat())
    headers = device.signed("POST", target, body)
    first = await badge.post(target, content=body, headers=headers)
    assert first.status_code == 201
    # Sent again, it is the same request: the first answer (test_signed_retries.py has the rest).
    repeat = await badge.post(target, content=body, headers=headers)
    assert (repeat.status_code, repeat.json()) == (201, first.json())
    tampered = device.signed("POST", target, body)
    assert (
        await badge.post(target, content=body.replace(b"45.2", b"99.9"), headers=tampered)
    ).status_code == 401
    stale = device.signed("POST", target, body, at=int(time.time()) - 301)
    assert (await badge.post(target, content=body, headers=stale)).status_code == 401
    future = device.signed("POST", target, body, at=int(time.time()) + 301)
    assert (await badge.post(target, content=body, headers=future)).status_code == 401
    unsigned = {"Authorization": f"Bearer {device.token}", "Content-Type": "application/json"}
    assert (await badge.post(target, content=body, headers=unsigned)).status_code == 401
    other_secret = builders.Badge(device.device_id, "not-the-secret", device.token)
    assert (
        await badge.post(target, content=body, headers=other_secret.signed("POST", target, body))
    ).status_code == 401
    # The query string is signed too: a changed query breaks the signature.
    signed = device.signed("GET", "/api/v1/versions/check?current_version=1.0.0")
    moved = await badge.get("/api/v1/versions/check?current_version=0.0.1", headers=signed)
    assert moved.status_code == 401


async def test_http_ingest_stores_logs_and_status_and_refuses_bad_payloads(
    badge: httpx.AsyncClient, device: Badge, admin: Account
) -> None:
    base = f"/api/v1/devices/{device.device_id}"
    assert (
        await device.request(badge, "POST", f"{base}/logs", builders.log("error", code="E1001"))
    ).status_code == 201
    status = {
        "timestamp": "2025-01-22T10:30:00Z",
        "modules": {"yolo": "running"},
        "performance": {"fps": 15.2},
    }
    assert (await device.request(badge, "POST", f"{base}/status", status)).status_code == 201
    bad = await device.request(badge, "POST", f"{base}/logs", builders.log("loud"))
    assert bad.status_code == 422 and bad.json()["detail"]
    naive = await device.request(
        badge, "POST", f"{base}/heartbeat", builders.heartbeat(timestamp="2025-01-22T10:30:00")
    )
    assert naive.status_code == 422
    assert (
        await badge.post(f"{base}/heartbeat", json=builders.heartbeat(), headers=admin.headers)
    ).status_code == 403
    detail = (await badge.get(base, headers=admin.headers)).json()
    assert detail["latest_status"]["modules"] == {"yolo": "running"}
    logs = (await badge.get(f"/api/v1/logs?device_id={device.device_id}", headers=admin.headers)).json()
    assert logs["total"] == 1 and logs["items"][0]["error_code"] == "E1001"
    history = await device.request(badge, "GET", f"{base}/heartbeats")
    assert history.status_code == 200 and history.json() == []


async def test_device_token_logout_revokes_it(badge: httpx.AsyncClient, device: Badge) -> None:
    assert (await device.request(badge, "POST", "/api/v1/auth/logout")).status_code == 200
    assert (await device.request(badge, "GET", f"/api/v1/devices/{device.device_id}")).status_code == 401


async def test_command_without_a_broker_is_refused(
    badge: httpx.AsyncClient, admin: Account, guest: Account, device: Badge
) -> None:
    target = f"/api/v1/devices/{device.device_id}/command"
    assert (await badge.post(target, json={"command": "reboot"}, headers=guest.headers)).status_code == 403
    assert (
        await badge.post("/api/v1/devices/ghost/command", json={"command": "reboot"}, headers=admin.headers)
    ).status_code == 404
    refused = await badge.post(target, json={"command": "reboot"}, headers=admin.headers)
    assert refused.status_code == 409 and "MQTT" in refused.json()["detail"]
