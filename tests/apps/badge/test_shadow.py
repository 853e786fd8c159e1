"""The config shadow (issue 17 item 6): keel's desired keys, what the badge reports applied, the
delta between them pushed again each time the badge comes back online until it reports it
applied; over HTTP, and over real Mosquitto."""

import asyncio
from urllib.parse import urlsplit

import aiomqtt
import httpx
import orjson
from sqlalchemy import update

from keel.apps.badge.models import Device
from keel.core.db import Database, utcnow
from tests.apps.badge import builders, test_mqtt
from tests.apps.badge.builders import Account, Badge
from tests.apps.badge.test_mqtt import _eventually
from tests.databases import MQTT_URL

# test_mqtt's fixture: the badge app with its bridge on the shared Mosquitto.
served = test_mqtt.served

INTERVAL = {"config_key": "detection_interval", "config_value": "5", "config_type": "integer"}


async def _set(client: httpx.AsyncClient, admin: Account, device_id: str, **overrides: str) -> dict:
    response = await client.put(
        f"/api/v1/devices/{device_id}/config", json={**INTERVAL, **overrides}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_shadow_shows_desired_reported_and_delta_until_the_device_reports(
    badge: httpx.AsyncClient, admin: Account, guest: Account, device: Badge
) -> None:
    base = f"/api/v1/devices/{device.device_id}"
    await _set(badge, admin, device.device_id)
    await _set(badge, admin, device.device_id, config_value="7")
    await _set(badge, admin, device.device_id, config_key="volume", config_value="3", module_name=None)

    shadow = (await badge.get(f"{base}/config/shadow", headers=guest.headers)).json()
    assert (shadow["desired_version"], shadow["config_version"]) == ("3", None)
    assert [(k["config_key"], k["version"]) for k in shadow["delta"]] == [
        ("detection_interval", "2"),
        ("volume", "1"),
    ]
    assert shadow["reported"] == []

    # An older version applied is still a delta; the current one is not.
    report = {
        "timestamp": "2025-01-22T10:30:00Z",
        "applied": [
            {"config_key": "detection_interval", "version": "1"},
            {"config_key": "volume", "version": "1"},
        ],
    }
    answered = await device.request(badge, "POST", f"{base}/config/reported", report)
    assert answered.status_code == 200, answered.text
    assert [k["config_key"] for k in answered.json()["delta"]] == ["detection_interval"]
    assert answered.json()["config_version"] is None

    report["applied"] = [
        {"config_key": "detection_interval", "version": "2"},
        {"config_key": "ghost", "version": "1"},
    ]
    settled = (await device.request(badge, "POST", f"{base}/config/reported", report)).json()
    assert settled["delta"] == [] and settled["config_version"] == "3"
    assert {k["config_key"]: k["reported_version"] for k in settled["reported"]} == {
        "detection_interval": "2",
        "volume": "1",
    }
    # The device's read shows the same, and its detail the applied version.
    keys = (await badge.get(f"{base}/config", headers=admin.headers)).json()
    assert {k["config_key"]: k["reported_version"] for k in keys} == {
        "detection_interval": "2",
        "volume": "1",
    }
    detail = (await badge.get(base, headers=admin.headers)).json()
    assert (detail["config_version"], detail["desired_config_version"]) == ("3", "3")

    # A new change opens a delta again; config_version stays at the applied one.
    await _set(badge, admin, device.device_id, config_value="9")
    again = (await badge.get(f"{base}/config/shadow", headers=admin.headers)).json()
    assert [k["config_value"] for k in again["delta"]] == ["9"]
    assert (again["desired_version"], again["config_version"]) == ("4", "3")


async def test_reports_are_the_devices_own_and_checked(badge: httpx.AsyncClient, admin: Account) -> None:
    mine, other = await builders.badge(badge, admin), await builders.badge(badge, admin)
    report = {"applied": [{"config_key": "detection_interval", "version": "1"}]}
    target = f"/api/v1/devices/{other.device_id}/config/reported"
    assert (await mine.request(badge, "POST", target, report)).status_code == 404
    assert (await badge.post(target, json=report, headers=admin.headers)).status_code == 403
    own = f"/api/v1/devices/{mine.device_id}/config/reported"
    bad = await mine.request(badge, "POST", own, {"applied": [{"config_key": "x", "version": "two"}]})
    assert bad.status_code == 422 and bad.json()["detail"]
    assert (await mine.request(badge, "POST", own, {"applied": []})).status_code == 422
    assert (
        await mine.request(badge, "GET", f"/api/v1/devices/{other.device_id}/config/shadow")
    ).status_code == 404
    assert (await badge.get("/api/v1/devices/ghost/config/shadow", headers=admin.headers)).status_code == 404


async def test_encrypted_values_in_the_shadow_are_for_admins_and_the_device(
    badge: httpx.AsyncClient, admin: Account, operator: Account
) -> None:
    device = await builders.badge(badge, admin, user_id=operator.id)  # one the operator may see
    await _set(
        badge,
        admin,
        device.device_id,
        config_key="wifi_password",
        config_value="hunter22",
        config_type="string",
        is_encrypted=True,
    )
    target = f"/api/v1/devices/{device.device_id}/config/shadow"
    assert (await badge.get(target, headers=operator.headers)).json()["delta"][0]["config_value"] is None
    assert (await badge.get(target, headers=admin.headers)).json()["delta"][0]["config_value"] == "hunter22"
    assert (await device.request(badge, "GET", target)).json()["delta"][0]["config_value"] == "hunter22"


async def _config_updates(mqtt: aiomqtt.Client, count: int, within: float = 10) -> list[dict]:
    received = []
    async with asyncio.timeout(within):
        async for message in mqtt.messages:
            received.append(orjson.loads(message.payload))
            if len(received) == count:
                return received
    return received


async def _no_more(mqtt: aiomqtt.Client, wait: float = 1.5) -> list[dict]:
    try:
        return await _config_updates(mqtt, 1, within=wait)
    except TimeoutError:
        return []


async def test_the_delta_is_pushed_when_the_badge_comes_back_until_it_reports(
    served, badge_database: Database
) -> None:
    client, _bridge = served
    admin = await builders.account(client, badge_database, "admin")
    device = await builders.badge(client, admin)
    parts = urlsplit(MQTT_URL)
    base = f"luna/device/{device.device_id}"
    async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
        await mqtt.subscribe(f"{base}/config/update", qos=1)
        await _set(client, admin, device.device_id)  # pushed at once (the badge was away: lost)
        first = await _config_updates(mqtt, 1)
        assert first[0]["config_key"] == "detection_interval" and first[0]["version"] == "1"
        assert first[0]["config_version"] == "1"

        # Its first heartbeat: it came online, so the delta goes again.
        await mqtt.publish(f"{base}/heartbeat", orjson.dumps(builders.heartbeat()), qos=1)
        again = await _config_updates(mqtt, 1)
        assert (again[0]["config_key"], again[0]["config_value"], again[0]["version"]) == (
            "detection_interval",
            "5",
            "1",
        )
        # While it stays online, heartbeats push nothing more.
        await mqtt.publish(f"{base}/heartbeat", orjson.dumps(builders.heartbeat()), qos=1)
        assert await _no_more(mqtt) == []

        # It goes away (its will), comes back without having reported: pushed again.
        await mqtt.publish(f"{base}/lwt", orjson.dumps({"status": "offline"}), qos=1)

        async def offline() -> bool:
            body = (await client.get(f"/api/v1/devices/{device.device_id}", headers=admin.headers)).json()
            return body["status"] == "offline"

        assert await _eventually(offline)
        await mqtt.publish(f"{base}/lwt", orjson.dumps({"status": "online"}), qos=1)
        assert (await _config_updates(mqtt, 1))[0]["version"] == "1"

        # It reports on MQTT; the next return pushes nothing.
        report = {
            "timestamp": "2025-01-22T10:30:00Z",
            "applied": [{"config_key": "detection_interval", "version": "1"}],
        }
        await mqtt.publish(f"{base}/config/reported", orjson.dumps(report), qos=1)

        async def applied() -> dict | None:
            shadow = (
                await client.get(f"/api/v1/devices/{device.device_id}/config/shadow", headers=admin.headers)
            ).json()
            return shadow if shadow["config_version"] == "1" else None

        shadow = await _eventually(applied)
        assert shadow is not None and shadow["delta"] == []
        async with badge_database.sessionmaker() as session:
            await session.execute(
                update(Device).where(Device.device_id == device.device_id).values(offline_at=utcnow())
            )
            await session.commit()
        await mqtt.publish(f"{base}/heartbeat", orjson.dumps(builders.heartbeat()), qos=1)
        assert await _no_more(mqtt) == []
