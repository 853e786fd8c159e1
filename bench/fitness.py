"""Benchmark the fitness batch upload on PostgreSQL: sessions stored per second for batches of
100 sessions with 600 time-series points each, and for the same batches replayed (all
duplicates), with p50 and p99 per batch.

Run from the repository root:
    .venv/bin/python -m bench.fitness [--batches 60] [--concurrency 4] [--users N]

It creates (and afterwards drops) the database keel_bench_fitness, starts `keel serve --app
fitness --workers 2`, and drives it from this process with pre-built request bodies, so the
load generator spends its time sending bytes, not building them. The batches come from as
many users as there are uploads at once (`--users 1` makes them one user's, whose uploads then
take turns at that user's totals). A bare FastAPI endpoint is measured first, as a yardstick
of the machine's speed at the time. Targets: 3,000 sessions/s created, 10,000 sessions/s as duplicates.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.harness import ADMIN_DSN, ROOT, free_port, sql, start_server, stop_server, wait_ready
from bench.shop import bare_rps

BIN = Path(sys.executable).parent
DB_NAME = "keel_bench_fitness"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
SESSIONS_PER_BATCH = 100
POINTS_PER_SESSION = 600
TARGETS = {"created": 3_000, "duplicate": 10_000}


def batch_body(start: datetime) -> bytes:
    sessions = []
    for n in range(SESSIONS_PER_BATCH):
        begin = start + timedelta(minutes=15 * n)
        sessions.append(
            {
                "client_session_id": str(uuid.uuid4()),
                "source_type": "free",
                "device_type": "rower",
                "start_time": begin.isoformat(),
                "end_time": (begin + timedelta(seconds=POINTS_PER_SESSION)).isoformat(),
                "duration_seconds": POINTS_PER_SESSION,
                "total_calories": 120.5,
                "total_distance_meters": 2500.0,
                "xp_earned": 25,
                "metrics_summary": {"avg_watts": 155.5, "avg_spm": 26.0, "avg_heart_rate": 140},
                "time_series_data": [
                    {"t": float(t), "watts": 150.0 + t % 11, "spm": 26.0, "heart_rate": 120 + t % 40}
                    for t in range(POINTS_PER_SESSION)
                ],
            }
        )
    return json.dumps({"sessions": sessions}).encode()


async def _post(host: str, port: int, head: bytes, body: bytes) -> int:
    """One POST on a connection of its own, as prepared bytes; the answer read by its length."""
    reader, writer = await asyncio.open_connection(host, port, limit=2**20)
    try:
        writer.write(head + str(len(body)).encode() + b"\r\n\r\n")
        writer.write(body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return int(status_line.split()[1])
    finally:
        writer.close()


async def drive(
    base: str, tokens: list[str], bodies: list[bytes], concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    """Send every body once, `concurrency` at a time; the wall time, each batch's latency, statuses.
    Body n is sent by user n % len(tokens), so a replay of the same bodies comes from the same
    users.

    Over plain sockets, not an HTTP client library: the load generator shares the server's
    cores, and writing a prepared 3.7 MB request costs it a copy, where httpx spent about a
    third of a core encoding and chunking them. Each batch goes on a connection of its own, as
    a phone back online would send it. Kept alive, the few connections of a run stay with the
    server worker that accepted them, and when they are opened together that is often one
    worker for all: every idle worker is woken, and the first one up accepts all waiting.
    """
    queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()
    host, port = base.removeprefix("http://").split(":")
    heads = [
        (
            f"POST /api/v1/sessions/batch_upload HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: "
        ).encode()
        for token in tokens
    ]
    for number, body in enumerate(bodies):
        queue.put_nowait((heads[number % len(tokens)], body))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        while not queue.empty():
            head, body = queue.get_nowait()
            started = time.perf_counter()
            status = await _post(host, int(port), head, body)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--users", type=int, help="users uploading, each its own batches (default: as many as --concurrency)"
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}, nproc {os.cpu_count()}")

    data_dir = Path(tempfile.mkdtemp(prefix="keel-bench-fitness-"))
    bare = bare_rps(data_dir)
    env = {**os.environ, "KEEL_FITNESS_DATABASE_URL": DB_URL, "KEEL_DATA_DIR": str(data_dir)}
    env |= {"KEEL_ACCESS_LOG": "false", "KEEL_LOG_LEVEL": "WARNING"}
    sql(ADMIN_DSN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    subprocess.run([str(BIN / "keel"), "migrate", "--app", "fitness"], env=env, cwd=ROOT, check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = data_dir / "server.log"
    server = start_server(
        [str(BIN / "keel"), "serve", "--app", "fitness", "--workers", "2", "--port", str(port)], env, log
    )
    try:
        wait_ready(f"{base}/health", server, log)
        tokens = [
            httpx.post(
                f"{base}/api/v1/auth/register",
                json={
                    "email": f"bench{n}@example.com",
                    "password": "bench-password",
                    "display_name": "Bench",
                },
            ).json()["access_token"]
            for n in range(args.users or args.concurrency)
        ]
        print(
            f"building {args.batches} batches of {SESSIONS_PER_BATCH} sessions x {POINTS_PER_SESSION} points ..."
        )
        origin = datetime(2024, 1, 1, tzinfo=UTC)
        bodies = [batch_body(origin + timedelta(days=2 * n)) for n in range(args.batches)]
        print(f"each body is {len(bodies[0]) / 1e6:.1f} MB")
        # A short warm-up on bodies of its own, so the measured batches are all new.
        warmup = [batch_body(origin - timedelta(days=400 + 2 * n)) for n in range(4)]
        asyncio.run(drive(base, tokens, warmup, args.concurrency))
        # Statistics, as autovacuum keeps them on a live database. Without them, plans made while
        # the tables were empty would be kept by the server's prepared statements for the whole
        # run (autovacuum looks every minute), whatever the table grows to in the meantime.
        sql(DB_URL, "ANALYZE")

        rows = []
        for scenario in ("created", "duplicate"):
            # The load generator shares the 2 cores: its own CPU time is reported beside the rate.
            cpu_before = time.process_time()
            elapsed, latencies, statuses = asyncio.run(drive(base, tokens, bodies, args.concurrency))
            client_cpu = (time.process_time() - cpu_before) / elapsed
            rate = len(bodies) * SESSIONS_PER_BATCH / elapsed
            rows.append(
                (
                    scenario,
                    rate,
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.99),
                    client_cpu,
                    statuses,
                )
            )

        print(
            f"\nconcurrency {args.concurrency}, {len(tokens)} users, {args.batches} batches per scenario,"
            " server: 2 workers on PostgreSQL\n"
        )
        print(
            f"{'scenario':<10} | {'sessions/s':>10} | {'p50 ms':>8} | {'p99 ms':>8} | {'client cores':>12} | statuses"
        )
        print("-" * 77)
        for scenario, rate, p50, p99, client_cpu, statuses in rows:
            print(
                f"{scenario:<10} | {rate:>10,.0f} | {p50 * 1000:>8.1f} | {p99 * 1000:>8.1f} | {client_cpu:>12.2f} | {statuses}"
            )
        print("\ntargets:")
        for scenario, rate, *_ in rows:
            verdict = "PASS" if rate >= TARGETS[scenario] else "FAIL"
            print(f"  {verdict}  {scenario}: >= {TARGETS[scenario]:,} sessions/s (measured {rate:,.0f})")
        print(f"\nbare FastAPI endpoint before the run (the machine's speed): {bare:,.0f} req/s")
        print(f"load average at end: {os.getloadavg()}")
        return 0
    finally:
        stop_server(server)
        sql(ADMIN_DSN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    raise SystemExit(main())
