"""Benchmark badge MQTT ingest: 10,000 simulated devices send heartbeats with QoS 1 through
Mosquitto into PostgreSQL. Reports the messages the broker acknowledged, the rows stored,
the sustained rows stored per second, and how many acknowledged messages are missing.

Run from the repository root:  .venv/bin/python -m bench.badge [--seconds 20] [--devices 10000]

It creates (and afterwards drops) the database keel_bench_badge, starts a private Mosquitto
(the ingest acknowledges after the commit, so the broker's in-flight limit is raised to 1000),
and `keel serve --app badge` with one worker (one ingest client). Targets: at least 5,000
messages stored per second, 0 lost.
"""

import argparse
import asyncio
import getpass
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
import asyncpg
import orjson

from bench.harness import ADMIN_DSN, ROOT, free_port, sql, start_server, stop_server, wait_ready

BIN = Path(sys.executable).parent
DB_NAME = "keel_bench_badge"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
TARGET_PER_SECOND = 5_000


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
        "max_inflight_messages 1000\nmax_queued_messages 1000000\n"
    )
    process = subprocess.Popen(
        ["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    return process, port


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


async def publish(port: int, ids: list[str], seconds: float, clients: int, in_flight: int) -> int:
    """Heartbeats round-robin over the devices for `seconds`; how many the broker acknowledged."""
    payload = orjson.dumps(
        {
            "timestamp": "2025-01-22T10:30:00Z",
            "status": "online",
            "cpu_usage": 45.2,
            "memory_usage": 67.8,
            "temperature": 42.5,
        }
    )
    acknowledged = 0
    deadline = time.monotonic() + seconds

    async def one_client(offset: int) -> None:
        nonlocal acknowledged
        async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=in_flight) as mqtt:
            mqtt.pending_calls_threshold = 2 * in_flight  # many in flight is the point, not a warning

            async def sender(n: int) -> None:
                nonlocal acknowledged
                while time.monotonic() < deadline:
                    await mqtt.publish(f"luna/device/{ids[n % len(ids)]}/heartbeat", payload, qos=1)
                    acknowledged += 1
                    n += in_flight * clients

            await asyncio.gather(*(sender(offset + k * clients) for k in range(in_flight)))

    await asyncio.gather(*(one_client(c) for c in range(clients)))
    return acknowledged


async def count_rows() -> int:
    connection = await asyncpg.connect(DB_URL)
    try:
        return await connection.fetchval("SELECT count(*) FROM heartbeats")
    finally:
        await connection.close()


async def run(args: argparse.Namespace, port: int) -> None:
    ids = await register_devices(args.devices)
    samples: list[tuple[float, int]] = []
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            samples.append((time.monotonic(), await count_rows()))
            await asyncio.sleep(1)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    acknowledged = await publish(port, ids, args.seconds, args.clients, args.in_flight)
    published_in = time.monotonic() - started
    # Let the ingest drain what the broker still holds.
    last, still = -1, 0
    while still < 5:
        await asyncio.sleep(1)
        rows = await count_rows()
        still = still + 1 if rows == last or rows >= acknowledged else 0
        last = rows
        if rows >= acknowledged:
            break
    stop.set()
    await sampler
    rows = await count_rows()
    # Sustained: the best 10-second window of the samples.
    window = 10
    rates = [
        (samples[i + window][1] - samples[i][1]) / (samples[i + window][0] - samples[i][0])
        for i in range(len(samples) - window)
    ]
    sustained = max(rates) if rates else rows / published_in
    load = os.getloadavg()
    print(f"\n{args.devices:,} devices, {args.seconds:.0f} s of QoS 1 heartbeats, load {load[0]:.2f}")
    print(f"{'acknowledged by the broker':<32}{acknowledged:>12,}")
    print(f"{'published per second':<32}{acknowledged / published_in:>12,.0f}")
    print(f"{'rows stored':<32}{rows:>12,}")
    print(f"{'stored per second (best 10 s)':<32}{sustained:>12,.0f}")
    print(f"{'lost (acknowledged - stored)':<32}{max(acknowledged - rows, 0):>12,}")
    print(
        f"\nverdict: {'PASS' if sustained >= TARGET_PER_SECOND else 'FAIL'} throughput (target {TARGET_PER_SECOND:,}/s)"
    )
    print(f"verdict: {'PASS' if rows >= acknowledged else 'FAIL'} nothing lost")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--in-flight", type=int, default=100)
    args = parser.parse_args()
    sql(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)', f'CREATE DATABASE "{DB_NAME}"')
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        broker, mqtt_port = start_broker(data_dir)
        env = {**os.environ, "KEEL_BADGE_DATABASE_URL": DB_URL, "KEEL_DATA_DIR": str(data_dir)}
        env |= {"KEEL_ACCESS_LOG": "false", "KEEL_LOG_LEVEL": "WARNING"}
        env |= {
            "KEEL_BADGE_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
            "KEEL_BADGE_MQTT_CLIENT_ID": "keel-bench",
        }
        python = [sys.executable, "-m", "keel"]
        subprocess.run([*python, "migrate", "--app", "badge"], env=env, cwd=ROOT, check=True)
        port = free_port()
        log = data_dir / "server.log"
        server = start_server([*python, "serve", "--app", "badge", "--port", str(port)], env, log)
        try:
            wait_ready(f"http://127.0.0.1:{port}/health", server, log)
            time.sleep(1)  # the ingest connects and subscribes
            asyncio.run(run(args, mqtt_port))
        finally:
            stop_server(server)
            broker.terminate()
            broker.wait(10)
    sql(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
