"""Benchmark badge MQTT ingest in the shape it is deployed in: `keel serve --workers 2` (two
ingest processes sharing one subscription) on PostgreSQL and Redis, and a private Mosquitto run
from deploy/mosquitto.conf. Two bursts of QoS 1 heartbeats from many simulated devices, each
published as fast as the broker acknowledges it:

1. while the server runs: stored as fast as they arrive;
2. while the server is stopped (its ingest sessions stay subscribed, so the broker queues each
   worker's share), then drained when it starts again: the ingest's own rate, and proof that
   a restart loses nothing.

Every heartbeat carries its own timestamp, so a row stored twice shows as a duplicate, and one
never stored as lost.

Every simulated badge is registered through the API (with the provisioning key) and publishes
its own heartbeats over its own connection, with the MQTT credentials its registration
answered: the broker, as deployed, lets no one else publish on its topics.

Run from the repository root:  .venv/bin/python -m bench.badge [--messages 20000] [--devices 200]

A bare FastAPI endpoint is measured first, as a yardstick of the machine's speed at the time.
It creates (and afterwards drops) the database keel_bench_badge and uses Redis database 15 on
127.0.0.1:6379. Targets: every acknowledged heartbeat stored exactly once; the ingest drains at
5,000 or more per second.
"""

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import asyncpg
import httpx
import orjson
from tests.broker import Broker

from bench.harness import ADMIN_DSN, ROOT, free_port, sql, start_server, stop_server, wait_ready
from bench.shop import bare_rps

DB_NAME = "keel_bench_badge"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/15"
CLIENT_ID = "keel-bench"
PROVISIONING_KEY = secrets.token_urlsafe(24)
TARGET_PER_SECOND = 5_000
_EPOCH = datetime(2025, 1, 22, tzinfo=UTC)


@dataclass
class Device:
    device_id: str
    username: str
    password: str


async def register_devices(base_url: str, count: int, at_once: int = 8) -> list[Device]:
    """Through the API, as a badge provisioning itself; each one's broker identity is made
    then (registration speed is not what is measured)."""
    limit = asyncio.Semaphore(at_once)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-Provisioning-Key": PROVISIONING_KEY}
    ) as client:

        async def one(n: int) -> Device:
            async with limit:
                body = {"device_id": f"bench_{n:05d}", "device_name": f"bench {n}"}
                answer = await client.post("/api/v1/devices/register", json=body, timeout=30)
                answer.raise_for_status()
                fields = answer.json()
                return Device(fields["device_id"], fields["mqtt_username"], fields["mqtt_password"])

        return list(await asyncio.gather(*(one(n) for n in range(count))))


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


async def publish(port: int, devices: list[Device], first: int, total: int, in_flight: int) -> int:
    """Heartbeats `first` to `first + total`, the n-th from device n % len(devices) over its own
    connection, each keeping `in_flight` QoS 1 publishes outstanding. Returns how many the
    broker acknowledged."""
    acknowledged = 0

    async def one_device(index: int) -> None:
        nonlocal acknowledged
        device = devices[index]
        numbers = range(first + index, first + total, len(devices))
        async with aiomqtt.Client(
            "127.0.0.1",
            port,
            username=device.username,
            password=device.password,
            max_inflight_messages=in_flight,
        ) as mqtt:
            mqtt.pending_calls_threshold = 2 * in_flight  # many in flight is the point, not a warning

            async def sender(start: int) -> None:
                nonlocal acknowledged
                for n in numbers[start::in_flight]:
                    await mqtt.publish(f"luna/device/{device.device_id}/heartbeat", heartbeat(n), qos=1)
                    acknowledged += 1

            await asyncio.gather(*(sender(k) for k in range(in_flight)))

    await asyncio.gather(*(one_device(index) for index in range(len(devices))))
    return acknowledged


async def count_rows() -> tuple[int, int]:
    """Rows stored, and distinct heartbeats among them."""
    connection = await asyncpg.connect(DB_URL)
    try:
        row = await connection.fetchrow("SELECT count(*), count(DISTINCT occurred_at) FROM heartbeats")
    finally:
        await connection.close()
    return row[0], row[1]


@dataclass
class Burst:
    name: str
    acknowledged: int
    published_in: float
    rows: int  # of this burst
    distinct: int
    stored_in: float

    def exactly_once(self, expected: int) -> bool:
        return self.acknowledged == expected and self.rows == self.distinct == expected

    def column(self) -> list[str]:
        return [
            f"{self.acknowledged:,}",
            f"{self.acknowledged / self.published_in:,.0f}",
            f"{self.rows:,}",
            f"{self.rows - self.distinct:,}",
            f"{self.acknowledged - self.distinct:,}",
            f"{self.distinct / self.stored_in:,.0f}",
        ]


async def drain(expected: int, startup: float = 0) -> tuple[int, int, float]:
    """Until `expected` distinct heartbeats are stored in all, or nothing moves for 10 s (plus
    `startup` seconds for the first new row, while a server starts); then 3 s more for
    duplicates (a second subscriber storing the same messages) to show. Returns rows, distinct
    heartbeats, and when the last new row was seen."""
    counted = await count_rows()
    last = time.monotonic() + startup
    while counted[1] < expected and time.monotonic() - last < 10:
        await asyncio.sleep(0.05)
        now = await count_rows()
        if now != counted:
            counted, last = now, time.monotonic()
    await asyncio.sleep(3)
    rows, distinct = await count_rows()
    return rows, distinct, last


async def live_burst(args: argparse.Namespace, port: int, ids: list[Device]) -> Burst:
    started = time.monotonic()
    acknowledged = await publish(port, ids, 0, args.messages, args.in_flight)
    published_in = time.monotonic() - started
    rows, distinct, last = await drain(args.messages)
    return Burst("while serving", acknowledged, published_in, rows, distinct, last - started)


def queued_burst(
    name: str, args: argparse.Namespace, port: int, ids: list[Device], burst: int, stop, resume
) -> Burst:
    """The `burst`-th burst, published while the ingest is held by `stop`, then drained after
    `resume`: counted from the resumption to the last row."""
    before = asyncio.run(count_rows())
    stop()
    started = time.monotonic()
    first = burst * args.messages
    acknowledged = asyncio.run(publish(port, ids, first, args.messages, args.in_flight))
    published_in = time.monotonic() - started
    resumed = time.monotonic()
    resume()
    rows, distinct, last = asyncio.run(drain(before[1] + args.messages, startup=60))
    return Burst(
        name, acknowledged, published_in, rows - before[0], distinct - before[1], max(last - resumed, 0.1)
    )


def wait_subscribed(broker: Broker, workers: int, since: int, timeout: float = 30) -> None:
    """Until every worker's ingest client has connected (it subscribes right after), as the
    broker's log says after offset `since`, so a burst is shared by all of them."""
    expected = [f" as {CLIENT_ID}-{slot} " for slot in range(workers)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = broker.log.read_text()[since:]
        if all(client in text for client in expected):
            time.sleep(0.5)
            return
        time.sleep(0.2)
    raise RuntimeError(f"not every worker's ingest connected to the broker within {timeout}s")


def print_table(args: argparse.Namespace, bursts: list[Burst]) -> None:
    load = os.getloadavg()
    print(
        f"\nbadge MQTT ingest, keel serve --workers {args.workers} (PostgreSQL, Redis), Mosquitto from "
        f"deploy/mosquitto.conf; bursts of {args.messages:,} QoS 1 heartbeats from {args.devices:,} "
        f"devices, a connection each ({args.in_flight} in flight each); load {load[0]:.2f}\n"
    )
    names = (
        "acknowledged by the broker",
        "published per second",
        "rows stored",
        "duplicates (rows - distinct)",
        "lost (acknowledged - distinct)",
        "stored per second",
    )
    columns = [burst.column() for burst in bursts]
    print("| | " + " | ".join(burst.name for burst in bursts) + " |")
    print("|---|" + "---|" * len(bursts))
    for row, name in enumerate(names):
        print(f"| {name} | " + " | ".join(column[row] for column in columns) + " |")
    print(
        "\nstored per second: while serving, from the first publish to the last row (so bounded by the"
        "\npublishers); otherwise from SIGCONT, or from the restart (the workers' start-up included),"
        "\nto the last row."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sql(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)', f'CREATE DATABASE "{DB_NAME}"')
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        bare = bare_rps(data_dir)
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
            **broker.keel_env,
            "KEEL_BADGE_PROVISIONING_KEY": PROVISIONING_KEY,
            "KEEL_BADGE_MQTT_CLIENT_ID": CLIENT_ID,
            "KEEL_ACCESS_LOG": "false",
            "KEEL_LOG_LEVEL": "WARNING",
        }
        python = [sys.executable, "-m", "keel"]
        subprocess.run([*python, "migrate", "--app", "badge"], env=env, cwd=ROOT, check=True)
        port = free_port()
        log = data_dir / "server.log"
        command = [*python, "serve", "--app", "badge", "--port", str(port), "--workers", str(args.workers)]

        def serve() -> subprocess.Popen[bytes]:
            since = len(broker.log.read_text())
            server = start_server(command, env, log)
            wait_ready(f"http://127.0.0.1:{port}/health", server, log)
            wait_subscribed(broker, args.workers, since)
            return server

        server = serve()

        def signal_workers(number: signal.Signals) -> None:
            os.killpg(server.pid, number)  # uvicorn's parent and its workers

        def restart() -> None:
            nonlocal server
            # Counted from the start: the workers drain before /health answers.
            server = start_server(command, env, log)

        try:
            ids = asyncio.run(register_devices(f"http://127.0.0.1:{port}", args.devices))
            bursts = [asyncio.run(live_burst(args, broker.port, ids))]
            # Paused, the workers keep their connections (keepalive is 30 s): the broker sends
            # each its in-flight window and queues the rest, and the drain is the ingest alone.
            bursts.append(
                queued_burst(
                    "queued: workers paused (SIGSTOP), resumed",
                    args,
                    broker.port,
                    ids,
                    1,
                    lambda: signal_workers(signal.SIGSTOP),
                    lambda: signal_workers(signal.SIGCONT),
                )
            )
            # Stopped, their sessions stay subscribed: the broker queues each one's share.
            bursts.append(
                queued_burst(
                    "queued: server stopped, restarted",
                    args,
                    broker.port,
                    ids,
                    2,
                    lambda: stop_server(server),
                    restart,
                )
            )
        finally:
            stop_server(server)
            broker.stop()
    sql(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    print_table(args, bursts)
    exactly_once = all(burst.exactly_once(args.messages) for burst in bursts)
    throughput = bursts[1].distinct / bursts[1].stored_in >= TARGET_PER_SECOND
    print(f"\nverdict: {'PASS' if exactly_once else 'FAIL'} every acknowledged heartbeat stored exactly once")
    print(f"verdict: {'PASS' if throughput else 'FAIL'} ingest drain (target {TARGET_PER_SECOND:,}/s)")
    print(f"bare FastAPI endpoint before the run (the machine's speed): {bare:,.0f} req/s")
    sys.exit(0 if exactly_once else 1)


if __name__ == "__main__":
    main()
