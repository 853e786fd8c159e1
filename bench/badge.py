"""Benchmark badge MQTT ingest in the shape it is deployed in: `keel serve --workers 2` (two
ingest processes sharing one subscription) on PostgreSQL and Redis, and a private Mosquitto run
from deploy/mosquitto.conf. A burst of QoS 1 heartbeats from many simulated devices is published
as fast as the broker acknowledges them; then the rows are counted. Every heartbeat carries its
own timestamp, so a row stored twice is seen as a duplicate, and one never stored as lost.

Run from the repository root:  .venv/bin/python -m bench.badge [--messages 20000] [--devices 2000]

It creates (and afterwards drops) the database keel_bench_badge and uses Redis database 15 on
127.0.0.1:6379. Targets: every acknowledged message stored exactly once; 5,000 stored per second.
"""

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import asyncpg
import orjson
from tests.broker import Broker

from bench.harness import ADMIN_DSN, ROOT, free_port, sql, start_server, stop_server, wait_ready

DB_NAME = "keel_bench_badge"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/15"
CLIENT_ID = "keel-bench"
TARGET_PER_SECOND = 5_000
_EPOCH = datetime(2025, 1, 22, tzinfo=UTC)


async def register_devices(count: int) -> list[str]:
    """Straight into the table: registration speed is not what is measured."""
    ids = [f"bench_{n:05d}" for n in range(count)]
    connection = await asyncpg.connect(DB_URL)
    try:
        await connection.copy_records_to_table(
            "devices",
            records=[(i, i, "luna_badge", "offline", "x") for i in ids],
            columns=["device_id", "device_name", "device_type", "status", "secret_encrypted"],
        )
    finally:
        await connection.close()
    return ids


def heartbeat(n: int) -> bytes:
    """The n-th heartbeat, with a timestamp no other one has."""
    moment = _EPOCH + timedelta(seconds=n)
    return orjson.dumps(
        {
            "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "status": "online",
            "cpu_usage": 45.2,
            "memory_usage": 67.8,
            "temperature": 42.5,
        }
    )


async def publish(port: int, ids: list[str], total: int, clients: int, in_flight: int) -> int:
    """`total` heartbeats over `clients` connections, each device's on one connection (as a
    gateway for its share of the devices would), each connection keeping `in_flight` QoS 1
    publishes outstanding. Returns how many the broker acknowledged."""
    acknowledged = 0

    async def one_client(offset: int) -> None:
        nonlocal acknowledged
        async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=in_flight) as mqtt:
            mqtt.pending_calls_threshold = 2 * in_flight  # many in flight is the point, not a warning

            async def sender(start: int) -> None:
                nonlocal acknowledged
                for n in range(start, total, clients * in_flight):
                    await mqtt.publish(f"luna/device/{ids[n % len(ids)]}/heartbeat", heartbeat(n), qos=1)
                    acknowledged += 1

            await asyncio.gather(*(sender(offset + k * clients) for k in range(in_flight)))

    await asyncio.gather(*(one_client(c) for c in range(clients)))
    return acknowledged


async def count_rows(connection: asyncpg.Connection) -> tuple[int, int]:
    """Rows stored, and distinct heartbeats among them."""
    row = await connection.fetchrow("SELECT count(*), count(DISTINCT occurred_at) FROM heartbeats")
    return row[0], row[1]


async def run(args: argparse.Namespace, broker_port: int) -> bool:
    ids = await register_devices(args.devices)
    connection = await asyncpg.connect(DB_URL)
    try:
        started = time.monotonic()
        acknowledged = await publish(broker_port, ids, args.messages, args.clients, args.in_flight)
        published_in = time.monotonic() - started
        # Drain: until every acknowledged heartbeat is stored, or nothing moves for 10 s.
        rows, distinct = await count_rows(connection)
        last_change = finished = time.monotonic()
        while distinct < acknowledged and time.monotonic() - last_change < 10:
            await asyncio.sleep(0.2)
            counted = await count_rows(connection)
            if counted != (rows, distinct):
                rows, distinct = counted
                last_change = finished = time.monotonic()
        # Duplicates would come from a second subscriber storing the same messages: give them time.
        await asyncio.sleep(3)
        rows, distinct = await count_rows(connection)
    finally:
        await connection.close()
    stored_in = finished - started
    duplicates, lost = rows - distinct, acknowledged - distinct
    load = os.getloadavg()
    print(
        f"\nbadge MQTT ingest, keel serve --workers {args.workers} (PostgreSQL, Redis), Mosquitto from "
        f"deploy/mosquitto.conf; {args.messages:,} QoS 1 heartbeats from {args.devices:,} devices over "
        f"{args.clients} connections ({args.in_flight} in flight each); load {load[0]:.2f}\n"
    )
    table = [
        ("acknowledged by the broker", f"{acknowledged:,}"),
        ("published per second", f"{acknowledged / published_in:,.0f}"),
        ("rows stored", f"{rows:,}"),
        ("distinct heartbeats stored", f"{distinct:,}"),
        ("duplicates (rows - distinct)", f"{duplicates:,}"),
        ("lost (acknowledged - distinct)", f"{lost:,}"),
        ("stored per second (first publish to last row)", f"{distinct / stored_in:,.0f}"),
    ]
    print("| measure | value |\n|---|---|")
    for name, value in table:
        print(f"| {name} | {value} |")
    exactly_once = acknowledged == args.messages and duplicates == 0 and lost == 0
    throughput = distinct / stored_in >= TARGET_PER_SECOND
    print(f"\nverdict: {'PASS' if exactly_once else 'FAIL'} every acknowledged heartbeat stored exactly once")
    print(f"verdict: {'PASS' if throughput else 'FAIL'} throughput (target {TARGET_PER_SECOND:,}/s)")
    return exactly_once


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sql(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)', f'CREATE DATABASE "{DB_NAME}"')
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        (data_dir / "broker").mkdir()
        broker = Broker(data_dir / "broker")
        broker.start()
        env = {
            **os.environ,
            "KEEL_ENV": "production",
            "KEEL_SECRET_KEY": secrets.token_hex(32),
            "KEEL_DATA_DIR": str(data_dir),
            "KEEL_BADGE_DATABASE_URL": DB_URL,
            "KEEL_REDIS_URL": REDIS_URL,
            "KEEL_BADGE_MQTT_URL": broker.url,
            "KEEL_BADGE_MQTT_CLIENT_ID": CLIENT_ID,
            "KEEL_ACCESS_LOG": "false",
            "KEEL_LOG_LEVEL": "WARNING",
        }
        python = [sys.executable, "-m", "keel"]
        subprocess.run([*python, "migrate", "--app", "badge"], env=env, cwd=ROOT, check=True)
        port = free_port()
        log = data_dir / "server.log"
        command = [*python, "serve", "--app", "badge", "--port", str(port), "--workers", str(args.workers)]
        server = start_server(command, env, log)
        try:
            wait_ready(f"http://127.0.0.1:{port}/health", server, log)
            wait_subscribed(broker, args.workers)
            ok = asyncio.run(run(args, broker.port))
        finally:
            stop_server(server)
            broker.stop()
    sql(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    sys.exit(0 if ok else 1)


def wait_subscribed(broker: Broker, workers: int, timeout: float = 30) -> None:
    """Until every worker's ingest client has connected (it subscribes right after), so the
    burst is shared between all of them from its first message."""
    expected = [f" as {CLIENT_ID}-{slot} " for slot in range(workers)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = broker.log.read_text() if broker.log.exists() else ""
        if all(client in text for client in expected):
            time.sleep(0.5)
            return
        time.sleep(0.2)
    raise RuntimeError(f"not every worker's ingest connected to the broker within {timeout}s")


if __name__ == "__main__":
    main()
