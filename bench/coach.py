"""Benchmark the coach app on PostgreSQL: record create, day log read and weekly stats, under wrk.

Run from the repository root:  .venv/bin/python -m bench.coach [--duration 10] [--connections 32]

It creates (and afterwards drops) the database keel_bench_coach, migrates and seeds it (a demo
user with two weeks of records), registers more users with a week of records each, starts
`keel serve --app coach --workers 2`, and prints req/s, p50 and p99 per scenario, beside a bare
FastAPI endpoint (bench/bare_app.py) as a yardstick of the machine's speed at the time. Rate limits
are scaled off (KEEL_RATE_LIMIT_SCALE=0): a few users sending a thousand requests a second is
exactly what they refuse.
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.harness import ADMIN_DSN, ROOT, free_port, sql, start_server, wait_ready
from bench.shop import WARMUP_SECONDS, Result, run_wrk, start_bare, wrk_main

BIN = Path(sys.executable).parent
DB_NAME = "keel_bench_coach"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
DROP_DATABASE = f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"
USERS = 8
TARGETS = {"rps": 1000, "p99_ms": 50}


def prepare_users(client: httpx.Client, day: dt.date) -> list[str]:
    """Tokens of USERS users, each with a week of records in every dimension up to `day`."""
    tokens = []
    for n in range(USERS):
        body = {
            "email": f"bench{n}@example.com",
            "password": "bench-password",
            "privacy_policy_version": "2026-11-01",
            "timezone": "Asia/Shanghai",
        }
        client.post("/api/v1/auth/register", json=body)
        login = client.post("/api/v1/auth/login", json={"email": body["email"], "password": body["password"]})
        login.raise_for_status()
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for back in range(7):
            date = (day - dt.timedelta(days=back)).isoformat()
            records = {
                "workout": {"kind": "run", "minutes": 30},
                "meal": {"kind": "lunch", "calories": 700, "items": ["rice"]},
                "work": {"focus_minutes": 200},
                "reading": {"title": "Deep Work", "minutes": 25},
            }
            for dimension, record in records.items():
                client.post(
                    f"/api/v1/records/{dimension}", json={"date": date, **record}, headers=headers
                ).raise_for_status()
        tokens.append(token)
    return tokens


def warm_summaries(client: httpx.Client, tokens: list[str], path: str) -> None:
    """Ask for each user's weekly summary (`summary=true`: a plain read never starts one) and
    wait until the server's worker has written it, so the scenario measures the cached read."""
    deadline = time.monotonic() + 60
    pending = list(tokens)
    while pending and time.monotonic() < deadline:
        pending = [
            token
            for token in pending
            if client.get(
                path, params={"summary": "true"}, headers={"Authorization": f"Bearer {token}"}
            ).json()["ai_summary"]
            is None
        ]
        time.sleep(0.5)
    if pending:
        raise RuntimeError(f"{len(pending)} weekly summaries were not written within 60 s")


def print_report(results: list[Result], args: argparse.Namespace) -> None:
    wrk = f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency"
    print(f"\n{wrk} (after a {WARMUP_SECONDS}s warm-up)\n")
    print(
        f"{'scenario':<15} | {'req/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} | {'errors':>7} | {'vs bare':>7} | target"
    )
    print("-" * 80)
    bare = results[0].rps
    for r in results:
        ok = r.rps >= TARGETS["rps"] and r.p99_ms < TARGETS["p99_ms"] and r.errors == 0
        verdict = "" if r.scenario == "bare" else "PASS" if ok else "FAIL"
        print(
            f"{r.scenario:<15} | {r.rps:>9.0f} | {r.p50_ms:>7.2f} | {r.p99_ms:>7.2f} | {r.errors:>7} | "
            f"{r.rps / bare:>7.1%} | {verdict}"
        )
    print(f"\ntarget: >= {TARGETS['rps']:,} req/s with p99 < {TARGETS['p99_ms']} ms and no errors, each")


def run(args: argparse.Namespace, workdir: Path, servers: list[subprocess.Popen[bytes]]) -> list[Result]:
    env = {
        **os.environ,
        "KEEL_COACH_DATABASE_URL": DB_URL,
        "KEEL_DATA_DIR": str(workdir / "data"),
        "KEEL_ACCESS_LOG": "false",
        "KEEL_LOG_LEVEL": "WARNING",
        "KEEL_RATE_LIMIT_SCALE": "0",
    }
    print("creating, migrating and seeding", DB_NAME, flush=True)
    sql(ADMIN_DSN, DROP_DATABASE, f"CREATE DATABASE {DB_NAME}")
    for command in ("migrate", "seed"):
        subprocess.run(
            [sys.executable, "-m", "keel", command, "--app", "coach"], env=env, cwd=ROOT, check=True
        )

    port, log = free_port(), workdir / "coach.log"
    command = [sys.executable, "-m", "keel", "serve", "--app", "coach", "--workers", "2", "--port", str(port)]
    servers.append(start_server(command, env, log))
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/health", servers[0], log)

    day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    with httpx.Client(base_url=base, timeout=30) as client:
        tokens = prepare_users(client, day)
        stats_path = f"/api/v1/stats/weekly?date={day.isoformat()}"
        warm_summaries(client, tokens, stats_path)
    common = {"BENCH_TOKENS": ",".join(tokens)}
    scenarios = [
        (
            "record create",
            {"BENCH_METHOD": "POST", "BENCH_PATH": "/api/v1/records/workout", "BENCH_DATE": day.isoformat()},
        ),
        ("day log read", {"BENCH_PATH": f"/api/v1/day-logs/{(day - dt.timedelta(days=1)).isoformat()}"}),
        ("weekly stats", {"BENCH_PATH": stats_path}),
    ]
    results = [run_wrk("bare", start_bare(workdir, servers), args, None, {})]
    for name, scenario_env in scenarios:
        results.append(run_wrk(name, base, args, "coach.lua", {**common, **scenario_env}))
    return results


if __name__ == "__main__":
    sys.exit(wrk_main(__doc__.split("\n\n")[0], run, print_report, DB_NAME))
