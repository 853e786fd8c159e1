"""Periodic sweeps run once per deployment (core/sweeps.py): of any number of processes, one
runs each interval, and when it dies another runs the next one."""

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select

import keel
from keel.apps import load_app
from keel.apps.shop.models import RevokedToken, SweepLease
from keel.core.db import Database
from keel.core.sweeps import Sweep, Sweeper
from keel.settings import Settings
from tests.databases import drop_database, migrated_database, require_reachable
from tests.serving import KEEL, serving

SRC = str(Path(keel.__file__).resolve().parent.parent)
SWEEPS = ("offline", "retention")  # badge's


@pytest.fixture
async def leases(shop_database: Database) -> AsyncIterator[Database]:
    yield shop_database
    async with shop_database.sessionmaker() as session:
        await session.execute(delete(SweepLease))
        await session.commit()


def _counting(name: str, runs: list[str], interval: float) -> Sweep:
    async def run(_database: Database, _settings: Settings) -> None:
        runs.append(name)

    return Sweep(name, run, lambda _settings: interval)


async def test_of_two_processes_one_runs_each_interval_and_the_other_takes_over_when_it_dies(
    leases: Database, settings: Settings
) -> None:
    runs: list[str] = []
    # Long enough that the first four checks fall in one interval on a busy machine.
    sweep = _counting("count", runs, interval=2.0)
    first = Sweeper("shop", SweepLease, [sweep], leases, settings)
    second = Sweeper("shop", SweepLease, [sweep], leases, settings)

    # The first check anywhere creates the lease row; then exactly one of the two runs it.
    waits = [await first.run_if_due(sweep), await second.run_if_due(sweep)]
    waits += [await first.run_if_due(sweep), await second.run_if_due(sweep)]
    assert runs == ["count"]
    assert all(0 <= wait <= 2.2 for wait in waits)  # never more than an interval

    # The first "dies" holding the lease; once its interval ends, the second runs the next one.
    async with leases.sessionmaker() as session:
        lease = (await session.execute(select(SweepLease).where(SweepLease.name == "count"))).scalar_one()
    deadline = time.monotonic() + 10
    while len(runs) < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(await second.run_if_due(sweep))
    async with leases.sessionmaker() as session:
        taken = (await session.execute(select(SweepLease).where(SweepLease.name == "count"))).scalar_one()
    assert runs == ["count", "count"]
    assert taken.runs == 2 and taken.holder == second.name and taken.due_at > lease.due_at


async def test_a_failing_sweep_is_logged_and_tried_again_next_interval(
    leases: Database, settings: Settings
) -> None:
    calls: list[int] = []

    async def broken(_database: Database, _settings: Settings) -> None:
        calls.append(1)
        raise RuntimeError("the sweep broke")

    sweep = Sweep("broken", broken, lambda _settings: 0.2)
    sweeper = Sweeper("shop", SweepLease, [sweep], leases, settings)
    sweeper.start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await sweeper.stop()


def _badge_env(url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": SRC,
        "KEEL_ENV": "test",
        "KEEL_DATA_DIR": str(data_dir),
        "KEEL_SECRET_KEY": "s" * 48,
        "KEEL_BADGE_DATABASE_URL": url,
        "KEEL_ACCESS_LOG": "false",
        "KEEL_LOG_LEVEL": "WARNING",
        # Long intervals: each process checks at start, and only one may run.
        "KEEL_BADGE_OFFLINE_SWEEP_SECONDS": "3600",
        "KEEL_RETENTION_SWEEP_SECONDS": "3600",
    }


async def test_keel_worker_runs_the_sweeps_too(
    shop: httpx.AsyncClient, shop_database: Database, tmp_path: Path
) -> None:
    async with shop_database.sessionmaker() as session:
        session.add(RevokedToken(jti="expired", expires_at=datetime.now(UTC) - timedelta(days=1)))
        await session.commit()
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "KEEL_ENV": "test",
        "KEEL_DATA_DIR": str(tmp_path),
        "KEEL_SHOP_DATABASE_URL": shop_database.url,
        "KEEL_LOG_LEVEL": "WARNING",
    }
    worker = _start([*KEEL, "worker", "--app", "shop"], env)
    try:
        deadline = time.monotonic() + 30
        while await _jtis(shop_database):
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:] if worker.stderr else ""
            assert time.monotonic() < deadline, "keel worker never pruned the expired token"
            await asyncio.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


async def _jtis(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(RevokedToken.jti))).all())


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.PIPE)


def _counter(metrics: str, name: str, sweep: str) -> float:
    pattern = rf'^{name}\{{app="badge",sweep="{sweep}"\}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE))


async def test_two_server_workers_run_each_sweep_once(tmp_path: Path) -> None:
    require_reachable("postgresql")
    url = await migrated_database("postgresql", load_app("badge"), tmp_path, "_sweeps")
    try:
        with serving(_badge_env(url, tmp_path), "--app", "badge", "--workers", "2", timeout=90) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                # The process that creates a lease row checks twice (the row is new, then due) and
                # the other once: three checks of a sweep mean both processes asked.
                deadline = time.monotonic() + 90
                while True:
                    server.assert_running()
                    assert time.monotonic() < deadline, "the two workers never both checked the sweeps"
                    try:
                        metrics = (await client.get("/metrics")).text
                    except httpx.HTTPError:
                        metrics = ""
                    checked = all(
                        _counter(metrics, "keel_sweep_checks_total", name) >= 3
                        and _counter(metrics, "keel_sweep_runs_total", name) >= 1
                        for name in SWEEPS
                    )
                    if checked or any(
                        _counter(metrics, "keel_sweep_runs_total", name) > 1 for name in SWEEPS
                    ):
                        break
                    await asyncio.sleep(0.2)
        for name in SWEEPS:
            assert _counter(metrics, "keel_sweep_runs_total", name) == 1, metrics
    finally:
        await drop_database("postgresql", url)
