"""Benchmark the queue app on PostgreSQL: the WebSocket fan-out of one status change to 1,000
customers waiting at one store, and booking creation per second.

Run from the repository root:  .venv/bin/python -m bench.queue [--clients 1000] [--rounds 20]

It creates (and afterwards drops) the database keel_bench_queue, starts `keel serve --app queue
--workers 2` with Redis (so the fan-out crosses processes, as in production), and drives it
from this process:

- fan-out: the customers, the store and its waiting line are written straight into the
  database (1,000 bookings through the API would send each other half a million events), each
  customer opens a WebSocket, and the owner moves the head of the line to `serving`, round
  after round. Measured per round: the time from sending the PUT until the LAST customer has
  its `queue_updated` with its new position. Target: p99 under 250 ms.
- booking creation: customers book at 200 stores, `--concurrency` requests at a time. Every
  booking writes its notifications and a `queue_updated` per person in that line.

The load generator is Python on the same two cores as the server, so both figures include
its own cost (1,000 sockets' JSON parsing, httpx per request).
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

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import ADMIN_DSN, ROOT, free_port, sql, start_server, stop_server, wait_ready
from keel.core.security.passwords import hash_password
from keel.core.security.tokens import TokenService

BIN = Path(sys.executable).parent
DB_NAME = "keel_bench_queue"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = os.environ.get("KEEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-secret-" + "x" * 40
FANOUT_TARGET_MS = 250
CREATION_STORES = 200


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def populate(customers: int) -> tuple[str, list[str], str, list[str], list[str]]:
    """Owner, stores, customers and the waiting line, straight into the tables. Returns the
    owner's id, the customers' ids, the fan-out store, its bookings in line order, and the
    stores for booking creation."""
    hashed = await hash_password("bench-password")
    now = datetime.now(UTC).replace(tzinfo=None)
    owner = uuid.uuid4()
    people = [uuid.uuid4() for _ in range(customers)]
    fanout_store = uuid.uuid4()
    creation_stores = [uuid.uuid4() for _ in range(CREATION_STORES)]
    bookings = [uuid.uuid4() for _ in range(customers)]
    connection = await asyncpg.connect(DB_URL)
    try:
        await connection.copy_records_to_table(
            "users",
            columns=[
                "id",
                "email",
                "hashed_password",
                "name",
                "notification_settings",
                "is_admin",
                "created_at",
                "updated_at",
            ],
            records=[
                (user, f"bench{n}@example.com", hashed, f"Bench {n}", "{}", False, now, now)
                for n, user in enumerate([owner, *people])
            ],
        )
        await connection.copy_records_to_table(
            "stores",
            columns=[
                "id",
                "owner_id",
                "name",
                "is_active",
                "created_at",
                "updated_at",
            ],
            records=[
                (store, owner, f"Store {n}", True, now, now)
                for n, store in enumerate([fanout_store, *creation_stores])
            ],
        )
        await connection.copy_records_to_table(
            "bookings",
            columns=[
                "id",
                "store_id",
                "user_id",
                "queue_day",
                "queue_number",
                "status",
                "created_at",
                "updated_at",
            ],
            records=[
                (booking, fanout_store, user, now.date(), n, "waiting", now, now)
                for n, (booking, user) in enumerate(zip(bookings, people, strict=True), 1)
            ],
        )
        await connection.execute(
            "INSERT INTO queue_counters (store_id, day, last_number) VALUES ($1, $2, $3)",
            fanout_store,
            now.date(),
            customers,
        )
    finally:
        await connection.close()
    return (
        str(owner),
        [str(p) for p in people],
        str(fanout_store),
        [str(b) for b in bookings],
        [str(s) for s in creation_stores],
    )


class Listener:
    """One customer's socket: records when each queue_updated arrives, with its position."""

    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self.arrivals: list[tuple[float, int]] = []
        self.changed = asyncio.Event()

    async def run(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message["event"] == "queue_updated":
                self.arrivals.append((time.perf_counter(), message["data"]["your_position"]))
                self.changed.set()


async def fanout(
    base: str, tokens: TokenService, owner: str, people: list[str], bookings: list[str], rounds: int
) -> tuple[list[float], list[float], int]:
    """Per round: ms until the last waiting customer had its update; every delivery's ms; and
    how many updates carried a wrong position."""
    ws_url = base.replace("http", "ws") + "/ws"
    sockets: list[ClientConnection] = []
    for start in range(0, len(people), 100):  # in waves, so the accept backlog never overflows
        sockets += await asyncio.gather(
            *(
                connect(f"{ws_url}?token={tokens.issue_access(p)[0]}", max_queue=None)
                for p in people[start : start + 100]
            )
        )
    listeners = [Listener(ws) for ws in sockets]
    tasks = [asyncio.create_task(listener.run()) for listener in listeners]
    owner_headers = {"Authorization": f"Bearer {tokens.issue_access(owner)[0]}"}
    lasts, deliveries, wrong = [], [], 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for round_ in range(rounds):
            waiting = listeners[round_ + 1 :]
            for listener in waiting:
                listener.changed.clear()
            started = time.perf_counter()
            response = await client.put(
                f"/bookings/{bookings[round_]}/status", json={"status": "serving"}, headers=owner_headers
            )
            response.raise_for_status()
            await asyncio.wait_for(asyncio.gather(*(listener.changed.wait() for listener in waiting)), 30)
            arrivals = [listener.arrivals[-1] for listener in waiting]
            times = [(at - started) * 1000 for at, _ in arrivals]
            wrong += sum(1 for n, (_, position) in enumerate(arrivals, 1) if position != n)
            lasts.append(max(times))
            deliveries += times
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return lasts, deliveries, wrong


async def creation(
    base: str, tokens: TokenService, people: list[str], stores: list[str], total: int, concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    # Each customer books at most once per store: (n // people + n) walks a new store each lap.
    pairs = [(people[n % len(people)], stores[(n // len(people) + n) % len(stores)]) for n in range(total)]
    headers = {p: {"Authorization": f"Bearer {tokens.issue_access(p)[0]}"} for p in set(people)}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for pair in pairs:
        queue.put_nowait(pair)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            person, store = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/bookings", json={"store_id": store}, headers=headers[person])
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--bookings", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}, nproc {os.cpu_count()}")

    data_dir = Path(tempfile.mkdtemp(prefix="keel-bench-queue-"))
    env = {**os.environ, "KEEL_QUEUE_DATABASE_URL": DB_URL, "KEEL_DATA_DIR": str(data_dir)}
    env |= {"KEEL_ACCESS_LOG": "false", "KEEL_LOG_LEVEL": "WARNING", "KEEL_SECRET_KEY": SECRET}
    env |= {"KEEL_REDIS_URL": REDIS_URL}
    # 2 workers x 2 engines x 20 stays under PostgreSQL's default 100 connections, with room for
    # anything else using the server (the defaults, 20 + 10 overflow, could ask for 120).
    env |= {"KEEL_DATABASE_POOL_SIZE": "16", "KEEL_DATABASE_MAX_OVERFLOW": "4"}
    sql(ADMIN_DSN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "-m", "keel", "migrate", "--app", "queue"], env=env, cwd=ROOT, check=True)
    owner, people, _store, bookings, creation_stores = asyncio.run(populate(args.clients))
    tokens = TokenService(
        audience="queue",
        secret=SECRET,
        access_ttl=timedelta(hours=1),
        refresh_ttl=timedelta(days=1),
        refresh_reuse=timedelta(0),
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = data_dir / "server.log"
    command = [sys.executable, "-m", "keel", "serve", "--app", "queue", "--workers", "2", "--port", str(port)]
    server = start_server(command, env, log)
    try:
        wait_ready(f"{base}/health", server, log)
        lasts, deliveries, wrong = asyncio.run(fanout(base, tokens, owner, people, bookings, args.rounds))
        elapsed, latencies, statuses = asyncio.run(
            creation(base, tokens, people, creation_stores, args.bookings, args.concurrency)
        )
        rate = len(latencies) / elapsed

        print("\nserver: 2 workers on PostgreSQL, Redis pub/sub between them; client: Python, same machine\n")
        print(f"fan-out: {args.clients} WebSockets waiting at one store, {args.rounds} status changes")
        print(f"{'measure':<42} | {'p50 ms':>8} | {'p99 ms':>8} | {'max ms':>8}")
        print("-" * 75)
        print(
            f"{'last customer updated, per status change':<42} | {percentile(lasts, 0.5):>8.1f} | "
            f"{percentile(lasts, 0.99):>8.1f} | {max(lasts):>8.1f}"
        )
        print(
            f"{'each delivery (' + str(len(deliveries)) + ')':<42} | {percentile(deliveries, 0.5):>8.1f} | "
            f"{percentile(deliveries, 0.99):>8.1f} | {max(deliveries):>8.1f}"
        )
        print(
            f"\nbooking creation: {args.bookings} bookings at {CREATION_STORES} stores, concurrency {args.concurrency}"
        )
        print(f"{'req/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} | statuses")
        print("-" * 50)
        print(
            f"{rate:>8,.0f} | {percentile(latencies, 0.5) * 1000:>8.1f} | "
            f"{percentile(latencies, 0.99) * 1000:>8.1f} | {statuses}"
        )
        print("\ntargets:")
        p99 = percentile(lasts, 0.99)
        verdict = "PASS" if p99 < FANOUT_TARGET_MS and wrong == 0 else "FAIL"
        print(
            f"  {verdict}  fan-out p99 < {FANOUT_TARGET_MS} ms (measured {p99:.1f} ms; wrong positions: {wrong})"
        )
        verdict = "PASS" if statuses == {201: args.bookings} else "FAIL"
        print(f"  {verdict}  every booking answered 201 ({statuses})")
        print(f"\nload average at end: {os.getloadavg()}")
        return 0
    finally:
        stop_server(server)
        sql(ADMIN_DSN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    raise SystemExit(main())
