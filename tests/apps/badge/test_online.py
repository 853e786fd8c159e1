"""Online state you can trust (issue 17 item 7): one threshold for the device list and for
offline alerts, offline alerts that resolve themselves when the badge returns, the badge's
will message on `luna/device/{id}/lwt`; and bad MQTT payloads counted on the badge."""

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiomqtt
import httpx
import orjson
from sqlalchemy import update

from keel.apps.badge.models import Device
from keel.core.db import Database
from tests.apps.badge import builders, test_mqtt
from tests.apps.badge.builders import Account, Badge
from tests.apps.badge.test_mqtt import _eventually
from tests.databases import MQTT_URL

# test_mqtt's fixture: the badge app with its bridge on the shared Mosquitto.
served = test_mqtt.served


async def _silent_for(database: Database, device_id: str, delta: timedelta) -> None:
    async with database.sessionmaker() as session:
        await session.execute(
            update(Device)
            .where(Device.device_id == device_id)
            .values(last_heartbeat=datetime.now(UTC) - delta)
        )
        await session.commit()


async def _alerts(client: httpx.AsyncClient, admin: Account, device_id: str) -> list[dict]:
    body = (await client.get(f"/api/v1/alerts?device_id={device_id}", headers=admin.headers)).json()
    return body["items"]


async def _evaluate(client: httpx.AsyncClient, admin: Account) -> int:
    response = await client.post("/api/v1/alerts/evaluate", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["raised"]


async def test_the_list_and_the_alerts_share_one_threshold_and_alerts_resolve_on_return(
    badge: httpx.AsyncClient, badge_database: Database, admin: Account, device: Badge
) -> None:
    # The rule's window (1 minute) is not a second threshold: offline is the setting's 300 s.
    rule = {"name": "silent", "kind": "device_offline", "window_minutes": 1}
    assert (await badge.post("/api/v1/alert-rules", json=rule, headers=admin.headers)).status_code == 201
    beat = f"/api/v1/devices/{device.device_id}/heartbeat"
    assert (await device.request(badge, "POST", beat, builders.heartbeat())).status_code == 201
    await _silent_for(badge_database, device.device_id, timedelta(minutes=2))
    listed = (await badge.get("/api/v1/devices?status=online", headers=admin.headers)).json()
    assert [d["device_id"] for d in listed["items"]] == [device.device_id]
    assert await _evaluate(badge, admin) == 0

    await _silent_for(badge_database, device.device_id, timedelta(minutes=6))
    offline = (await badge.get("/api/v1/devices?status=offline", headers=admin.headers)).json()
    assert [d["device_id"] for d in offline["items"]] == [device.device_id]
    assert await _evaluate(badge, admin) == 1
    # Acknowledged or not, a device still away raises its alert once.
    (alert,) = await _alerts(badge, admin, device.device_id)
    acknowledged = await badge.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=admin.headers)
    assert acknowledged.status_code == 200
    assert await _evaluate(badge, admin) == 0
    assert alert["resolved_at"] is None and "offline since" in alert["message"]

    # (Another body: the same one signed in the same second would be the same request, run once.)
    assert (await device.request(badge, "POST", beat, builders.heartbeat(cpu_usage=50.0))).status_code == 201
    (resolved,) = await _alerts(badge, admin, device.device_id)
    assert resolved["resolved_at"] is not None
    # Gone again: a new alert, the resolved one stays resolved.
    await _silent_for(badge_database, device.device_id, timedelta(hours=1))
    assert await _evaluate(badge, admin) == 1
    newest, older = await _alerts(badge, admin, device.device_id)
    assert newest["resolved_at"] is None and older["resolved_at"] is not None


async def test_the_will_message_takes_the_badge_offline_at_once_and_it_returns(
    served, badge_database: Database
) -> None:
    client, _bridge = served
    admin = await builders.account(client, badge_database, "admin")
    device = await builders.badge(client, admin)
    rule = {"name": "gone", "kind": "device_offline", "device_id": device.device_id}
    assert (await client.post("/api/v1/alert-rules", json=rule, headers=admin.headers)).status_code == 201
    parts = urlsplit(MQTT_URL)
    detail = f"/api/v1/devices/{device.device_id}"
    base = f"luna/device/{device.device_id}"

    async def status() -> str:
        return (await client.get(detail, headers=admin.headers)).json()["status"]

    # As firmware does: the will set on connect, `online` published once connected. The
    # firmware's connection is a mosquitto_sub process, so it can die without a DISCONNECT.
    firmware = await asyncio.create_subprocess_exec(
        *("mosquitto_sub", "-h", parts.hostname, "-p", str(parts.port), "-t", f"{base}/command"),
        *("--will-topic", f"{base}/lwt", "--will-payload", '{"status": "offline"}', "--will-qos", "1"),
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
            await mqtt.publish(f"{base}/lwt", orjson.dumps({"status": "online"}), qos=1)
        assert await _eventually(lambda: _is(status, "online"))
    finally:
        firmware.send_signal(signal.SIGKILL)  # the connection drops: the broker publishes the will
        await asyncio.wait_for(firmware.wait(), 10)
    assert await _eventually(lambda: _is(status, "offline"))
    assert await _evaluate(client, admin) == 1
    (alert,) = await _alerts(client, admin, device.device_id)
    assert "will message" in alert["message"]

    async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
        await mqtt.publish(f"{base}/heartbeat", orjson.dumps(builders.heartbeat()), qos=1)
    assert await _eventually(lambda: _is(status, "online"))
    (alert,) = await _alerts(client, admin, device.device_id)
    assert alert["resolved_at"] is not None


async def _is(read, expected: str) -> bool:
    return await read() == expected


async def test_bad_mqtt_payloads_are_counted_on_the_badge_with_the_last_reason(
    served, badge_database: Database
) -> None:
    client, _bridge = served
    admin = await builders.account(client, badge_database, "admin")
    device, other = await builders.badge(client, admin), await builders.badge(client, admin)
    parts = urlsplit(MQTT_URL)
    base = f"luna/device/{device.device_id}"
    async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
        await mqtt.publish(f"{base}/logs", b"{not json", qos=1)
        await mqtt.publish(f"{base}/heartbeat", orjson.dumps({"status": "online"}), qos=1)  # no timestamp
        await mqtt.publish(f"{base}/lwt", orjson.dumps({"status": "asleep"}), qos=1)
        await mqtt.publish(f"{base}/logs", orjson.dumps(builders.log("info", message="fine")), qos=1)
        await mqtt.publish(
            f"luna/device/{other.device_id}/heartbeat", orjson.dumps(builders.heartbeat()), qos=1
        )

    async def counted() -> dict | None:
        body = (await client.get(f"/api/v1/devices/{device.device_id}", headers=admin.headers)).json()
        return body if body["rejected"] == 3 else None

    body = await _eventually(counted)
    assert body is not None, "the rejections were not counted"
    assert body["last_rejected_reason"].startswith("lwt:") and "status" in body["last_rejected_reason"]
    assert body["last_rejected_at"] is not None
    listed = (await client.get("/api/v1/devices", headers=admin.headers)).json()
    assert {d["device_id"]: d["rejected"] for d in listed["items"]} == {
        device.device_id: 3,
        other.device_id: 0,
    }
    logs = (await client.get(f"/api/v1/logs?device_id={device.device_id}", headers=admin.headers)).json()
    assert [item["error_message"] for item in logs["items"]] == ["fine"]
