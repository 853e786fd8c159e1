"""MQTT against real Mosquitto: ingest from the shared broker on 1883, pushes on admin actions,
and a private broker restarted in the middle of a stream with nothing lost."""

import asyncio
import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt
import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from keel.apps import load_app
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.badge import builders
from tests.apps.badge.builders import Account
from tests.databases import MQTT_URL, empty_tables, require_service


def _counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("keel_badge_mqtt_messages_total", {"outcome": outcome}) or 0.0


async def _forget_session(host: str, port: int, client_id: str) -> None:
    """Leave no persistent session (and its queue) behind on a shared broker."""
    async with aiomqtt.Client(host, port, identifier=client_id, clean_session=True):
        pass


@asynccontextmanager
async def _serve(
    settings: Settings, database: Database, url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    keel_app = load_app("badge")
    client_id = f"keel-test-{os.getpid()}-{time.monotonic_ns()}"
    configured = settings.model_copy(
        update={"badge_mqtt_url": url, "badge_mqtt_client_id": client_id, "data_dir": tmp_path}
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
        parts = urlsplit(url)
        try:
            await _forget_session(parts.hostname, parts.port, bridge.client_id)
        except aiomqtt.MqttError:
            pass


@pytest.fixture
async def served(badge_database: Database, settings: Settings, tmp_path: Path):
    require_service("mqtt", MQTT_URL)
    async with _serve(settings, badge_database, MQTT_URL, tmp_path) as pair:
        yield pair


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
    served, badge_database: Database
) -> None:
    client, _bridge = served
    admin = await _admin(client, badge_database)
    device = await builders.badge(client, admin)
    malformed, unknown = _counted("malformed"), _counted("unknown_device")
    parts = urlsplit(MQTT_URL)
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_broker(port: int, folder: Path) -> subprocess.Popen[bytes]:
    config = folder / "mosquitto.conf"
    config.write_text(
        # Run as root, mosquitto drops to the `mosquitto` user, which cannot write a pytest
        # folder: it would lose every queued message on restart (and say so only in its log).
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {folder}/\nmax_queued_messages 100000\nmax_inflight_messages 100\n"
    )
    process = subprocess.Popen(
        ["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("private mosquitto did not start")


async def _publish_all(port: int, topics: list[tuple[str, bytes]], restart_at: int, restart) -> int:
    """Publish each message with QoS 1 until the broker acknowledges it, reconnecting as needed;
    the broker is restarted once on the way. Returns how many were acknowledged."""
    acknowledged = 0
    index = 0
    while index < len(topics):
        try:
            async with aiomqtt.Client(
                "127.0.0.1", port, identifier="keel-test-publisher", clean_session=False
            ) as mqtt:
                while index < len(topics):
                    if index == restart_at:
                        restart_at = -1
                        await restart()
                    topic, payload = topics[index]
                    await mqtt.publish(topic, payload, qos=1, timeout=5)
                    acknowledged += 1
                    index += 1
        except (aiomqtt.MqttError, TimeoutError):
            await asyncio.sleep(0.2)
    return acknowledged


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed")
async def test_a_broker_restart_mid_stream_loses_nothing(
    badge_database: Database, settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    broker_dir = tmp_path / "broker"
    broker_dir.mkdir()
    broker = _start_broker(port, broker_dir)
    try:
        async with _serve(settings, badge_database, f"mqtt://127.0.0.1:{port}", tmp_path) as (client, bridge):
            admin = await _admin(client, badge_database)
            devices = [await builders.badge(client, admin) for _ in range(3)]
            total = 600
            messages = [
                (
                    f"luna/device/{devices[n % 3].device_id}/logs",
                    orjson.dumps(builders.log("info", message=f"message {n}")),
                )
                for n in range(total)
            ]

            async def restart() -> None:
                nonlocal broker
                broker.terminate()  # mosquitto writes its persistence file on the way out
                broker.wait(10)
                await asyncio.sleep(0.5)
                broker = _start_broker(port, broker_dir)

            acknowledged = await _publish_all(port, messages, total // 3, restart)
            assert acknowledged == total

            seen: list[int] = []

            async def stored() -> set[str] | None:
                rows: set[str] = set()
                page = 1
                while True:
                    body = (
                        await client.get(f"/api/v1/logs?limit=100&page={page}", headers=admin.headers)
                    ).json()
                    rows |= {item["error_message"] for item in body["items"]}
                    if page >= body["total_pages"]:
                        break
                    page += 1
                seen.append(len(rows))
                return rows if len(rows) == total else None

            everything = {f"message {n}" for n in range(total)}
            assert await _eventually(stored, within=30) == everything, (
                f"stored {seen[-1]} of {total}; bridge connected: {bridge.connected.is_set()}"
            )
            assert bridge.connected.is_set()
    finally:
        broker.terminate()
        broker.wait(10)
