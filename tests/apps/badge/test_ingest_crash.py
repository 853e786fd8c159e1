"""keel killed with SIGKILL in the middle of a burst of QoS 1 heartbeats, then started again,
loses none of them (issue 17 item 2): its MQTT session outlives the process (clean start off, a
session expiry, the same client id), the broker keeps what arrives meanwhile
(deploy/mosquitto.conf's queue limits), and a message is acknowledged only after its batch
committed, so what the dead process had received but not stored is delivered again."""

import asyncio
import os
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

import keel
from keel.apps import load_app
from keel.core.db import Database
from tests.apps.badge import builders
from tests.apps.badge.builders import Account
from tests.broker import Broker
from tests.databases import empty_tables
from tests.serving import KeelServe

SRC = str(Path(keel.__file__).resolve().parent.parent)
DEVICES, PER_DEVICE = 10, 300
BATCH = 50  # KEEL_BADGE_INGEST_BATCH_SIZE: the broker may have 2 batches in flight to keel
START = datetime(2026, 3, 1, tzinfo=UTC)


def _env(database: Database, broker: Broker, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": SRC,
        "KEEL_ENV": "test",
        "KEEL_DATA_DIR": str(data_dir),
        "KEEL_SECRET_KEY": "k" * 48,
        "KEEL_BADGE_DATABASE_URL": database.url,
        **broker.keel_env,
        "KEEL_BADGE_MQTT_CLIENT_ID": f"keel-crash-{uuid.uuid4().hex[:8]}",
        "KEEL_BADGE_MQTT_SHARE_GROUP": f"crash{uuid.uuid4().hex[:8]}",
        "KEEL_BADGE_INGEST_BATCH_SIZE": str(BATCH),
        "KEEL_ACCESS_LOG": "false",
        "KEEL_LOG_LEVEL": "WARNING",
    }


async def _stored(
    client: httpx.AsyncClient, admin: Account, devices: list[str]
) -> Counter[tuple[str, datetime]]:
    """Every stored heartbeat, by device and time, through the API."""
    counts: Counter[tuple[str, datetime]] = Counter()
    for device_id in devices:
        response = await client.get(
            f"/api/v1/devices/{device_id}/heartbeats", params={"limit": 1000}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        counts.update((device_id, datetime.fromisoformat(row["occurred_at"])) for row in response.json())
    return counts


async def test_keel_killed_mid_burst_and_restarted_loses_no_heartbeat(
    private_broker: Broker, badge_database: Database, tmp_path: Path
) -> None:
    server = KeelServe(
        _env(badge_database, private_broker, tmp_path), "--app", "badge", log=tmp_path / "serve.log"
    )
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            admin = await builders.account(client, badge_database, "admin")
            badges = [await builders.badge(client, admin) for _ in range(DEVICES)]
            devices = [each.device_id for each in badges]
            messages = [
                (device_id, START + timedelta(seconds=n)) for n in range(PER_DEVICE) for device_id in devices
            ]
            total = len(messages)
            killed_at = None
            async with AsyncExitStack() as stack:
                # Each badge on its own connection, with the credentials registration gave it.
                connections = {
                    each.device_id: await stack.enter_async_context(each.mqtt(private_broker.port))
                    for each in badges
                }
                for index, (device_id, at) in enumerate(messages):
                    payload = orjson.dumps(builders.heartbeat(timestamp=at.isoformat()))
                    topic = f"luna/device/{device_id}/heartbeat"
                    await connections[device_id].publish(topic, payload, qos=1, timeout=10)
                    if index == total // 3:
                        # Mid-burst: whatever it had received and not yet committed dies with it.
                        server.kill()
                        killed_at = index
            assert killed_at is not None
            # Everything after the kill waits at the broker, for keel's session.
            await asyncio.sleep(1)
            server.start()

            expected = set(messages)
            deadline = time.monotonic() + 60
            while True:
                counts = await _stored(client, admin, devices)
                if set(counts) >= expected or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            missing = expected - set(counts)
            assert not missing, f"{len(missing)} of {total} heartbeats lost; log:\n{server.tail()}"
            # A crash between a commit and its acknowledgement delivers that batch again: at
            # most what was in flight to the killed process, never more.
            doubled = sum(count - 1 for count in counts.values())
            assert doubled <= 2 * BATCH, f"{doubled} heartbeats stored twice"
    finally:
        server.stop()
        await empty_tables(badge_database, load_app("badge").metadata)
