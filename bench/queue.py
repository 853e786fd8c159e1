"""Benchmark the queue app on PostgreSQL: booking creation per second with 1,000 customers
connected over WebSocket, and the fan-out of one status change to 1,000 and to 10,000
connected customers, beside a bare FastAPI endpoint measured in the same run.

Run from the repository root:  .venv/bin/python -m bench.queue [--rounds 20] [--duration 10]

It creates (and afterwards drops) the database keel_bench_queue, starts `keel serve --app queue
--workers 2` with Redis (so every event crosses processes, as in production) and
bench/bare_app.py with the same uvicorn settings, and drives them:

- The customers, the stores and two waiting lines are written straight into the tables: the
  first 1,000 customers wait at the small store (positions 1-1,000), all 10,000 at the big one.
- Sockets are held by `--listeners` client processes (the `websockets` asyncio client), each
  recording when every `queue_updated` arrives and with which position.
- booking creation (wrk, `bench/lua/booking_create.lua`) with the first 1,000 customers
  connected: at 199 other stores, and at the small store itself, where each booking is one
  `queue_updated` rendered for each of the 1,000 sockets.
- fan-out: the owner moves the head of a line to `serving`, round after round; per socket, the
  time from sending the PUT (its commit is inside it) until that socket has its new position.
  First with the 1,000 connected (small store), then with all 10,000 (big store).

The load generators (wrk, the listeners) run on the same two cores as the server, PostgreSQL
and Redis, so every figure includes their cost.
"""

import argparse
import asyncio
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import asyncpg
import httpx
import orjson

from bench.harness import ADMIN_DSN, ROOT, free_port, sql, start_server, stop_server, wait_ready
from bench.shop import LUA, Result, parse_wrk, start_bare
from keel.apps.queue.services.days import local_day
from keel.core.realtime.events import STATE_INTERVAL_SECONDS
from keel.core.security.passwords import hash_password
from keel.core.security.tokens import TokenService

DB_NAME = "keel_bench_queue"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = os.environ.get("KEEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-secret-" + "x" * 40
SMALL, BIG = 1_000, 10_000
OTHER_STORES = 199  # prime to the customer count, so no (customer, store) pair repeats
BOOKERS = 24_000  # customers who only book (wrk), never connected
WARMUP_BOOKERS = 4_000
STORE_TIME_ZONE = "Asia/Taipei"  # KEEL_QUEUE_DEFAULT_TIME_ZONE's default, the stores' column default
TARGETS = {"creation": 800.0, "fanout 1,000": 150.0, "fanout 10,000": 500.0}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- data ---------------------------------------------------------------------------------------


async def populate() -> dict[str, list[str]]:
    """Straight into the tables; answers the ids by role."""
    hashed = await hash_password("bench-password")
    now = datetime.now(UTC).replace(tzinfo=None)
    # The stores keep the default time zone: their day (and the counters') is Taipei's date,
    # which is not UTC's for eight hours of each day.
    today = local_day(STORE_TIME_ZONE, datetime.now(UTC))
    owner = uuid.uuid4()
    waiting = [uuid.uuid4() for _ in range(BIG)]
    bookers = [uuid.uuid4() for _ in range(BOOKERS + WARMUP_BOOKERS)]
    small, big = uuid.uuid4(), uuid.uuid4()
    others = [uuid.uuid4() for _ in range(OTHER_STORES)]
    user_columns = ["id", "email", "hashed_password", "name", "notification_settings", "is_admin"]
    store_columns = ["id", "owner_id", "name", "is_active"]
    booking_columns = ["id", "store_id", "user_id", "queue_day", "queue_number", "status"]
    lines = [(small, waiting[:SMALL]), (big, waiting)]
    connection = await asyncpg.connect(DB_URL)
    try:
        await connection.copy_records_to_table(
            "users",
            columns=[*user_columns, "created_at", "updated_at"],
            records=[
                (user, f"bench{n}@example.com", hashed, f"Bench {n}", "{}", False, now, now)
                for n, user in enumerate([owner, *waiting, *bookers])
            ],
        )
        await connection.copy_records_to_table(
            "stores",
            columns=[*store_columns, "created_at", "updated_at"],
            records=[
                (store, owner, f"Store {n}", True, now, now) for n, store in enumerate([small, big, *others])
            ],
        )
        await connection.copy_records_to_table(
            "bookings",
            columns=[*booking_columns, "created_at", "updated_at"],
            records=[
                (uuid.uuid4(), store, user, today, n, "waiting", now, now)
                for store, people in lines
                for n, user in enumerate(people, 1)
            ],
        )
        await connection.executemany(
            "INSERT INTO queue_counters (store_id, day, last_number) VALUES ($1, $2, $3)",
            [(store, today, len(people)) for store, people in lines],
        )
        heads = {
            str(store): [
                str(row["id"])
                for row in await connection.fetch(
                    "SELECT id FROM bookings WHERE store_id = $1 ORDER BY queue_number", store
                )
            ]
            for store, _ in lines
        }
    finally:
        await connection.close()
    return {
        "owner": [str(owner)],
        "waiting": [str(u) for u in waiting],
        "bookers": [str(u) for u in bookers],
        "small": [str(small)],
        "big": [str(big)],
        "others": [str(s) for s in others],
        "small_bookings": heads[str(small)],
        "big_bookings": heads[str(big)],
    }


# --- the listening processes -----------------------------------------------------------------------


def listener(url: str, pipe: Connection) -> None:
    """A client process: holds its share of the sockets and answers the parent's commands."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_listen(url, pipe))


async def _listen(url: str, pipe: Connection) -> None:
    from websockets.asyncio.client import connect

    # socket's line position (0-based) -> {store id: (your_position, arrival time)}
    latest: dict[int, dict[str, tuple[int, float]]] = {}
    tasks: list[asyncio.Task[None]] = []
    closed: list[int | None] = []  # close codes of the sockets the server closed
    loop = asyncio.get_running_loop()

    async def hold(index: int, token: str, ready: asyncio.Event) -> None:
        mine = latest[index] = {}
        async with connect(f"{url}?token={token}", max_queue=None, compression=None) as ws:
            ready.set()
            try:
                async for raw in ws:
                    message = orjson.loads(raw)
                    if message["event"] == "queue_updated":
                        data = message["data"]
                        mine[data["store_id"]] = (data["your_position"], time.time())
            finally:
                closed.append(ws.close_code)

    while True:
        command, *args = await loop.run_in_executor(None, pipe.recv)
        if command == "connect":
            for start in range(0, len(args[0]), 100):  # in waves, so the accept backlog never overflows
                wave = args[0][start : start + 100]
                events = []
                for index, token in wave:
                    ready = asyncio.Event()
                    events.append(ready)
                    tasks.append(asyncio.create_task(hold(index, token, ready)))
                    await asyncio.sleep(0)
                await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 60)
            pipe.send(len(tasks))
        elif command == "round":
            store, served = args  # `served` heads have left: socket i should now be at i + 1 - served
            deadline = time.time() + 30
            expected = {i: i + 1 - served for i in latest if i >= served}
            while time.time() < deadline:
                if all(latest[i].get(store, (None,))[0] == p for i, p in expected.items()):
                    break
                await asyncio.sleep(0.005)
            arrivals = [latest[i].get(store, (None, None)) for i in expected]
            wrong = sum(
                1 for (position, _), p in zip(arrivals, expected.values(), strict=True) if position != p
            )
            pipe.send(([at for _, at in arrivals if at is not None], wrong, len(closed)))
        elif command == "stop":
            for task in tasks:
                task.cancel()
            pipe.send(None)
            return


class Listeners:
    def __init__(self, url: str, count: int):
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        for _ in range(count):
            mine, theirs = context.Pipe()
            process = context.Process(target=listener, args=(url, theirs), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    def connect(self, sockets: list[tuple[int, str]]) -> None:
        for n, pipe in enumerate(self.pipes):
            pipe.send(("connect", sockets[n :: len(self.pipes)]))
        for pipe in self.pipes:
            pipe.recv()

    def round(self, store: str, served: int) -> tuple[list[float], int, int]:
        """Every waiting socket's arrival time, how many had a wrong (or no) position, and how
        many sockets the server has closed so far."""
        for pipe in self.pipes:
            pipe.send(("round", store, served))
        arrivals, wrong, closed = [], 0, 0
        for pipe in self.pipes:
            times, bad, gone = pipe.recv()
            arrivals += times
            wrong += bad
            closed += gone
        return arrivals, wrong, closed

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.send(("stop",))
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            pipe.recv()
            process.join(10)


@dataclass
class Fanout:
    sockets: int
    from_request: list[float] = field(default_factory=list)  # ms from sending the PUT
    from_answer: list[float] = field(default_factory=list)  # ms from its answer (after the commit)
    requests: list[float] = field(default_factory=list)  # the PUT's own ms
    wrong: int = 0
    closed: int = 0


def fanout(
    base: str,
    listeners: Listeners,
    owner_token: str,
    store: str,
    bookings: list[str],
    result: Fanout,
    rounds: int,
) -> Fanout:
    """Moves the first `rounds` heads to serving; every waiting socket's delay per round."""
    headers = {"Authorization": f"Bearer {owner_token}"}
    with httpx.Client(base_url=base, timeout=60) as client:
        for n in range(rounds):
            started = time.time()
            moved = client.put(f"/bookings/{bookings[n]}/status", json={"status": "serving"}, headers=headers)
            moved.raise_for_status()
            answered = time.time()
            arrivals, bad, result.closed = listeners.round(store, n + 1)
            # Each change on its own, as an owner makes them at the counter: changes in a quick
            # run make the line busy, and a busy line's sockets get its latest state at most
            # every STATE_INTERVAL_SECONDS (booking creation measures that).
            time.sleep(STATE_INTERVAL_SECONDS + 0.1)
            result.from_request += [(at - started) * 1000 for at in arrivals]
            result.from_answer += [(at - answered) * 1000 for at in arrivals]
            result.requests.append((answered - started) * 1000)
            result.wrong += bad
    return result


# --- booking creation under wrk ---------------------------------------------------------------------


def wrk_bookings(
    base: str, stores: list[str], tokens: Path, warmup: Path, args: argparse.Namespace
) -> Result:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--latency", "--timeout", "5s"]
    command += ["-s", str(LUA / "booking_create.lua")]
    env = {**os.environ, "BENCH_STORE_IDS": ",".join(stores), "BENCH_SLICES": str(args.threads)}
    subprocess.run(
        [*command, "-d2s", f"{base}/bookings"],
        env={**env, "BENCH_TOKENS_FILE": str(warmup)},
        capture_output=True,
    )
    done = subprocess.run(
        [*command, f"-d{args.duration}s", f"{base}/bookings"],
        env={**env, "BENCH_TOKENS_FILE": str(tokens)},
        capture_output=True,
        text=True,
    )
    return parse_wrk("bookings", done.stdout)


def wrk_bare(url: str, args: argparse.Namespace) -> Result:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--latency", f"-d{args.duration}s", url]
    subprocess.run([*command[:-2], "-d2s", url], capture_output=True, check=True)
    return parse_wrk("bare", subprocess.run(command, capture_output=True, text=True, check=True).stdout)


# --- the run ----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--listeners", type=int, default=4)
    parser.add_argument("--big", type=int, default=BIG, help="sockets for the large fan-out (at most 10,000)")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server's workers inherit it
    print(f"load average at start: {os.getloadavg()}, nproc {os.cpu_count()}, open files {hard}")

    workdir = Path(tempfile.mkdtemp(prefix="keel-bench-queue-"))
    env = {**os.environ, "KEEL_QUEUE_DATABASE_URL": DB_URL, "KEEL_DATA_DIR": str(workdir)}
    env |= {"KEEL_ACCESS_LOG": "false", "KEEL_LOG_LEVEL": "WARNING", "KEEL_SECRET_KEY": SECRET}
    env |= {"KEEL_REDIS_URL": REDIS_URL}
    # 2 workers x 2 engines x 20 stays under PostgreSQL's default 100 connections.
    env |= {"KEEL_DATABASE_POOL_SIZE": "16", "KEEL_DATABASE_MAX_OVERFLOW": "4"}
    sql(ADMIN_DSN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "-m", "keel", "migrate", "--app", "queue"], env=env, cwd=ROOT, check=True)
    ids = asyncio.run(populate())
    tokens = TokenService(
        audience="queue", secret=SECRET, access_ttl=timedelta(hours=2), refresh_ttl=timedelta(days=1),
        refresh_reuse=timedelta(0),
    )  # fmt: skip
    token = {user: tokens.issue_access(user)[0] for user in (*ids["owner"], *ids["waiting"], *ids["bookers"])}
    booker_tokens, warmup_tokens = workdir / "bookers.txt", workdir / "warmup.txt"
    warmup_tokens.write_text("\n".join(token[u] for u in ids["bookers"][:WARMUP_BOOKERS]) + "\n")
    booker_tokens.write_text("\n".join(token[u] for u in ids["bookers"][WARMUP_BOOKERS:]) + "\n")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "keel", "serve", "--app", "queue", "--workers", "2", "--port", str(port)]
    servers = [start_server(command, env, workdir / "server.log")]
    listeners: Listeners | None = None
    try:
        wait_ready(f"{base}/health", servers[0], workdir / "server.log")
        bare_url = start_bare(workdir, servers)
        bare = wrk_bare(bare_url, args)
        print(f"  bare: {bare.rps:,.0f} req/s", flush=True)
        listeners = Listeners(base.replace("http", "ws") + "/ws", args.listeners)
        listeners.connect([(i, token[u]) for i, u in enumerate(ids["waiting"][:SMALL])])
        print(f"  {SMALL:,} sockets connected", flush=True)
        spread = wrk_bookings(base, ids["others"], booker_tokens, warmup_tokens, args)
        print(f"  bookings at {OTHER_STORES} stores: {spread.rps:,.0f} req/s", flush=True)
        # The same customers again: their bookings of the first run were at other stores.
        hot = wrk_bookings(base, ids["small"], booker_tokens, warmup_tokens, args)
        print(f"  bookings at the watched store: {hot.rps:,.0f} req/s", flush=True)
        owner_token = token[ids["owner"][0]]
        small = fanout(
            base, listeners, owner_token, ids["small"][0], ids["small_bookings"], Fanout(SMALL), args.rounds
        )
        print(
            f"  fan-out to {SMALL:,}: p99 {percentile(small.from_answer, 0.99):.1f} ms from the answer",
            flush=True,
        )
        big = min(args.big, BIG)
        listeners.connect([(i, token[u]) for i, u in enumerate(ids["waiting"][SMALL:big], SMALL)])
        print(f"  {big:,} sockets connected", flush=True)
        large = fanout(
            base, listeners, owner_token, ids["big"][0], ids["big_bookings"], Fanout(big), args.rounds
        )
        bare_again = wrk_bare(bare_url, args)
        report(args, [bare, spread, hot, bare_again], [small, large])
        return 0
    finally:
        if listeners is not None:
            listeners.stop()
        for server in servers:
            stop_server(server)
        sql(ADMIN_DSN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def report(args: argparse.Namespace, runs: list[Result], fanouts: list[Fanout]) -> None:
    bare, spread, hot, bare_again = runs
    yardstick = (bare.rps + bare_again.rps) / 2
    print("\nserver: keel serve --workers 2, PostgreSQL, Redis pub/sub; clients on the same 2 cores")
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s; {SMALL:,} sockets connected during creation\n"
    )
    print(f"{'measure':<52} | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'vs bare':>7} | statuses")
    print("-" * 110)
    rows = [
        ("bare FastAPI endpoint (first)", bare),
        (f"booking creation, {OTHER_STORES} other stores", spread),
        (f"booking creation at the store {SMALL:,} sockets watch", hot),
        ("bare FastAPI endpoint (last)", bare_again),
    ]
    for label, r in rows:
        print(
            f"{label:<52} | {r.rps:>7,.0f} | {r.p50_ms:>7.1f} | {r.p99_ms:>7.1f} | "
            f"{r.rps / yardstick:>7.1%} | {r.statuses or ''}"
        )
    print(f"\nfan-out of one status change to every waiting socket, {args.rounds} changes each (ms)\n")
    header = f"{'sockets':>8} | {'frames':>7} | {'PUT p50':>7} | {'from answer p50/p99':>19} | {'from request p50/p99':>20}"
    print(header + " | wrong | closed")
    print("-" * (len(header) + 17))
    for f in fanouts:
        print(
            f"{f.sockets:>8,} | {len(f.from_answer):>7,} | {percentile(f.requests, 0.5):>7.1f} | "
            f"{percentile(f.from_answer, 0.5):>9.1f}/{percentile(f.from_answer, 0.99):<9.1f} | "
            f"{percentile(f.from_request, 0.5):>10.1f}/{percentile(f.from_request, 0.99):<9.1f} | "
            f"{f.wrong:>5} | {f.closed}"
        )
    small, large = fanouts
    checks = [
        (
            f"booking creation >= {TARGETS['creation']:.0f} req/s, {OTHER_STORES} stores",
            spread.rps >= TARGETS["creation"],
        ),
        (
            f"booking creation >= {TARGETS['creation']:.0f} req/s, the watched store",
            hot.rps >= TARGETS["creation"],
        ),
        (
            f"fan-out to {small.sockets:,} p99 < 150 ms (from the answer)",
            percentile(small.from_answer, 0.99) < 150,
        ),
        (
            f"fan-out to {large.sockets:,} p99 < 500 ms (from the answer)",
            percentile(large.from_answer, 0.99) < 500,
        ),
        ("every position right, no socket closed", not (small.wrong or large.wrong or large.closed)),
    ]
    print("\ntargets (the commit is between the request and its answer; the answer comes after the publish):")
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    raise SystemExit(main())
