"""MQTT against real Mosquitto: ingest from the shared broker on 1883, pushes on admin actions,
and on a private broker run from deploy/mosquitto.conf: two ingest processes sharing the
subscription store each message once, and a broker restarted mid-stream loses nothing."""

import asyncio
import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from keel.apps import load_app
from keel.apps.badge.services.broker import Endpoint
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.badge import builders
from tests.apps.badge.builders import Account
from tests.broker import Broker
from tests.databases import MQTT_URL, empty_tables, require_service
from tests.serving import free_port


def _counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("keel_badge_mqtt_messages_total", {"outcome": outcome}) or 0.0


async def _forget_session(endpoint: Endpoint, client_id: str) -> None:
    """Leave no persistent session (and its queue) behind on a shared broker."""
    async with endpoint.client(identifier=client_id, clean_session=True):
        pass


def _unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"


@asynccontextmanager
async def _serve(
    settings: Settings,
    database: Database,
    mqtt: dict[str, Any],
    tmp_path: Path,
    group: str | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    """One badge app with its bridge, as one `keel serve` process would run it, with the `mqtt`
    settings (the shared broker's URL, or a private broker's `keel_settings`). Its own share
    group unless one is given: on the shared broker, another test run's bridges in the same
    group would take some of this test's messages."""
    keel_app = load_app("badge")
    configured = settings.model_copy(
        update={
            **mqtt,
            "badge_mqtt_client_id": _unique("keel-test"),
            "badge_mqtt_share_group": group or _unique("keel-test"),
            "data_dir": tmp_path,
        }
    )
    api = keel_app.build(configured, database)
    for hook in keel_app.on_startup:
        await hook(api)
    bridge = api.state.badge_mqtt
    await asyncio.wait_for(bridge.connected.wait(), 10)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://badge.test"
        ) as client:
            yield client, bridge
    finally:
        for hook in keel_app.on_shutdown:
            await hook(api)
        await empty_tables(database, keel_app.metadata)
        try:
            await _forget_session(bridge.endpoint, bridge.client_id)
        except aiomqtt.MqttError:
            pass


@pytest.fixture
async def served(badge_database: Database, settings: Settings, tmp_path: Path):
    require_service("mqtt", MQTT_URL)
    async with _serve(settings, badge_database, {"badge_mqtt_url": MQTT_URL}, tmp_path) as pair:
        yield pair


@pytest.fixture
def anonymous_broker(tmp_path: Path):
    """The URL of an open Mosquitto of this test's own: on the shared broker every other test
    process's badges are unknown devices here, so the ingest counters would count them too."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    port = free_port()
    config = tmp_path / "anonymous.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n")
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the test's own mosquitto did not start") from None
            time.sleep(0.05)
    yield f"mqtt://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


async def _eventually(check, within: float = 15.0):
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


async def _admin(client: httpx.AsyncClient, database: Database) -> Account:
    return await builders.account(client, database, "admin")


async def test_mqtt_ingest_stores_rows_counts_malformed_and_refuses_unknown(
    anonymous_broker: str, badge_database: Database, settings: Settings, tmp_path: Path
) -> None:
    async with _serve(settings, badge_database, {"badge_mqtt_url": anonymous_broker}, tmp_path) as served:
        await _ingest_counts_malformed_and_refuses_unknown(served, badge_database, anonymous_broker)


async def _ingest_counts_malformed_and_refuses_unknown(served, badge_database: Database, url: str) -> None:
    client, _bridge = served
    admin = await _admin(client, badge_database)
    device = await builders.badge(client, admin)
    malformed, unknown = _counted("malformed"), _counted("unknown_device")
    parts = urlsplit(url)
    async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
        base = f"luna/device/{device.device_id}"
        await mqtt.publish(f"{base}/heartbeat", orjson.dumps(builders.heartbeat()), qos=1)
        await mqtt.publish(f"{base}/logs", orjson.dumps(builders.log("error", code="E1001")), qos=1)
        status = {
            "timestamp": "2025-01-22T10:30:00Z",
            "modules": {"yolo": "running"},
            "performance": {"fps": 15},
        }
        await mqtt.publish(f"{base}/status", orjson.dumps(status), qos=1)
        await mqtt.publish(f"{base}/logs", b"{not json", qos=1)
        await mqtt.publish(f"{base}/heartbeat", orjson.dumps({"status": "online"}), qos=1)  # no timestamp
        await mqtt.publish(
            "luna/device/never_registered/heartbeat", orjson.dumps(builders.heartbeat()), qos=1
        )

    async def detail() -> dict | None:
        body = (await client.get(f"/api/v1/devices/{device.device_id}", headers=admin.headers)).json()
        return body if body["latest_heartbeat"] and body["latest_status"] else None

    body = await _eventually(detail)
    assert body is not None, "the heartbeat and status never arrived"
    assert body["status"] == "online" and body["latest_heartbeat"]["temperature"] == 42.5
    assert body["latest_status"]["modules"] == {"yolo": "running"}
    logs = (await client.get(f"/api/v1/logs?device_id={device.device_id}", headers=admin.headers)).json()
    assert logs["total"] == 1 and logs["items"][0]["error_code"] == "E1001"
    # Stored after the bad ones (acknowledged in order), so the counters are final by now.
    assert _counted("malformed") - malformed == 2
    assert _counted("unknown_device") - unknown == 1
    assert (await client.get("/api/v1/devices/never_registered", headers=admin.headers)).status_code == 404


async def test_admin_actions_are_pushed_after_commit(served, badge_database: Database) -> None:
    client, _bridge = served
    admin = await _admin(client, badge_database)
    device = await builders.badge(client, admin)
    parts = urlsplit(MQTT_URL)
    async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
        await mqtt.subscribe(f"luna/device/{device.device_id}/#", qos=1)
        config = {"config_key": "detection_interval", "config_value": "5", "config_type": "integer"}
        assert (
            await client.put(f"/api/v1/devices/{device.device_id}/config", json=config, headers=admin.headers)
        ).status_code == 200
        # A refused change is rolled back and never pushed.
        bad = {**config, "config_value": "five"}
        assert (
            await client.put(f"/api/v1/devices/{device.device_id}/config", json=bad, headers=admin.headers)
        ).status_code == 422
        command = {"command": "restart_module", "module": "yolo"}
        sent = await client.post(
            f"/api/v1/devices/{device.device_id}/command", json=command, headers=admin.headers
        )
        assert sent.status_code == 202 and sent.json()["published"] is True
        files = {"file": ("fw.bin", b"firmware-bytes", "application/octet-stream")}
        published = await client.post(
            "/api/v1/versions", data={"version_number": "9.0.0"}, files=files, headers=admin.headers
        )
        assert published.status_code == 201
        received: dict[str, dict] = {}
        async with asyncio.timeout(10):
            async for message in mqtt.messages:
                received[message.topic.value.rsplit(device.device_id + "/", 1)[1]] = orjson.loads(
                    message.payload
                )
                if len(received) == 3:
                    break
    assert received["config/update"]["config_key"] == "detection_interval"
    assert received["config/update"]["config_value"] == "5"
    assert received["command"]["command"] == "restart_module" and received["command"]["module"] == "yolo"
    assert received["update"]["version"] == "9.0.0" and received["update"]["checksum"].startswith("sha256:")
    assert received["update"]["force_update"] is False


async def _stored_logs(client: httpx.AsyncClient, admin: Account) -> list[str]:
    """Every stored log message, duplicates included, through the API."""
    messages: list[str] = []
    page = 1
    while True:
        body = (await client.get(f"/api/v1/logs?limit=100&page={page}", headers=admin.headers)).json()
        messages += [item["error_message"] for item in body["items"]]
        if page >= body["total_pages"]:
            return messages
        page += 1


async def test_two_ingest_processes_sharing_the_subscription_store_each_message_once(
    private_broker: Broker, badge_database: Database, settings: Settings, tmp_path: Path
) -> None:
    group = _unique("keel-test")
    async with (
        _serve(settings, badge_database, private_broker.keel_settings, tmp_path, group) as (client, first),
        _serve(settings, badge_database, private_broker.keel_settings, tmp_path, group) as (_, second),
    ):
        assert first.client_id != second.client_id  # two slots, as two workers take
        admin = await _admin(client, badge_database)
        devices = [await builders.badge(client, admin) for _ in range(4)]
        total = 400
        async with AsyncExitStack() as stack:
            # Each badge publishes its own logs, with the credentials its registration answered.
            connections = [await stack.enter_async_context(d.mqtt(private_broker.port)) for d in devices]
            for n in range(total):
                log = builders.log("info", message=f"message {n}")
                topic = f"luna/device/{devices[n % 4].device_id}/logs"
                await connections[n % 4].publish(topic, orjson.dumps(log), qos=1)

        async def all_stored() -> list[str] | None:
            stored = await _stored_logs(client, admin)
            return stored if len(set(stored)) == total else None

        stored = await _eventually(all_stored, within=30)
        assert stored is not None, "not every message was stored"
        assert sorted(stored) == sorted(f"message {n}" for n in range(total)), "some were stored twice"
        # Both members took their share: the broker hands them out in turn.
        assert first.received and second.received
        assert first.received + second.received == total


async def _publish_all(
    port: int, messages: list[tuple[builders.Badge, bytes]], restart_at: int, restart
) -> int:
    """Publish each badge's logs with QoS 1, as that badge, until the broker acknowledges it,
    reconnecting as needed; the broker is restarted once on the way. One connection at a time
    (each badge's messages follow one another), so the one the restart breaks is the one
    publishing. Returns how many were acknowledged."""
    acknowledged = 0
    index = 0
    while index < len(messages):
        badge = messages[index][0]
        try:
            async with badge.mqtt(
                port, identifier=f"keel-test-{badge.device_id}", clean_session=False
            ) as mqtt:
                while index < len(messages) and messages[index][0] is badge:
                    if index == restart_at:
                        restart_at = -1
                        await restart()
                    topic = f"luna/device/{badge.device_id}/logs"
                    await mqtt.publish(topic, messages[index][1], qos=1, timeout=5)
                    acknowledged += 1
                    index += 1
        except (aiomqtt.MqttError, TimeoutError):
            await asyncio.sleep(0.2)
    return acknowledged


async def test_a_broker_restart_mid_stream_loses_nothing(
    private_broker: Broker, badge_database: Database, settings: Settings, tmp_path: Path
) -> None:
    async with _serve(settings, badge_database, private_broker.keel_settings, tmp_path) as (client, bridge):
        admin = await _admin(client, badge_database)
        devices = [await builders.badge(client, admin) for _ in range(3)]
        total = 600
        messages = [
            (devices[n * 3 // total], orjson.dumps(builders.log("info", message=f"message {n}")))
            for n in range(total)
        ]

        async def restart() -> None:
            private_broker.stop()
            await asyncio.sleep(0.5)
            private_broker.start()

        acknowledged = await _publish_all(private_broker.port, messages, total // 2, restart)
        assert acknowledged == total

        seen: list[int] = []

        async def stored() -> set[str] | None:
            rows = set(await _stored_logs(client, admin))
            seen.append(len(rows))
            return rows if len(rows) == total else None

        everything = {f"message {n}" for n in range(total)}
        assert await _eventually(stored, within=30) == everything, (
            f"stored {seen[-1]} of {total}; bridge connected: {bridge.connected.is_set()}"
        )
        assert bridge.connected.is_set()
