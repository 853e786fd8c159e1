"""Periodic sweeps that run once per deployment, however many processes and machines serve it.

Every `keel serve` process and every `keel worker` runs the sweeps of its apps, and a lease row
per sweep in the app's own database (`SweepLeaseMixin`) decides which process runs each
interval: the process whose conditional UPDATE moves the row's `due_at` one interval forward
runs it, the others see no row change and sleep until the new `due_at`. The UPDATE is atomic on
every dialect (a row lock on PostgreSQL and MariaDB, the one writer on SQLite, across processes
too), so exactly one process wins each interval. There is no holder to hand over from: when
the process that ran the last interval dies, whichever process checks first after `due_at`
runs the next one.

A sweep must stay well inside its interval (prune in bounded batches, for instance): a run
still going when the next interval falls due does not stop another process from starting it.
"""

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from keel.core.db import Database, utcnow
from keel.settings import Settings

log = logging.getLogger("keel.sweeps")

# Summed over a deployment's processes (multiprocess Prometheus): one run per interval, however
# many processes check.
RUNS = Counter("keel_sweep_runs_total", "Periodic sweeps run", ["app", "sweep"])
CHECKS = Counter(
    "keel_sweep_checks_total", "Times a process found out whether a sweep was due", ["app", "sweep"]
)
# After a failed check (the database restarting), the next one waits at most this long.
RETRY_SECONDS = 30.0


class SweepLeaseMixin:
    """One row per sweep: `class SweepLease(SweepLeaseMixin, Base)` in each app with sweeps."""

    __tablename__ = "sweep_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # When the next run falls due; moving it forward is what claims a run.
    due_at: Mapped[datetime]
    # The process that ran the last interval, when, and how many runs there were in all.
    holder: Mapped[str | None] = mapped_column(String(64))
    last_run_at: Mapped[datetime | None]
    runs: Mapped[int] = mapped_column(default=0)


SweepFunction = Callable[[Database, Settings], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Sweep:
    name: str
    run: SweepFunction
    # Seconds between runs, read from the settings so an operator can tune it.
    interval: Callable[[Settings], float]


class Sweeper:
    """Runs one app's sweeps in this process, each interval only where its lease was won;
    `lease` is the app's `SweepLeaseMixin` model."""

    def __init__(
        self, slug: str, lease: Any, sweeps: Sequence[Sweep], database: Database, settings: Settings
    ):
        self.slug = slug
        self.lease = lease
        self.sweeps = sweeps
        self.database = database
        self.settings = settings
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(sweep), name=f"keel-sweep-{self.slug}-{sweep.name}")
            for sweep in self.sweeps
        ]

    async def stop(self) -> None:
        """A sweep cut off mid-run is run again by whichever process wins its next interval."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _loop(self, sweep: Sweep) -> None:
        while True:
            try:
                wait = await self.run_if_due(sweep)
            except Exception:  # the database may be restarting: the next check tries again
                log.exception("sweep check failed", extra={"app": self.slug, "sweep": sweep.name})
                wait = min(sweep.interval(self.settings), RETRY_SECONDS)
            await asyncio.sleep(wait)

    async def run_if_due(self, sweep: Sweep) -> float:
        """Run the sweep if this process wins its due interval; the seconds until the next check."""
        interval = sweep.interval(self.settings)
        due = await self._claim(sweep, interval)
        CHECKS.labels(self.slug, sweep.name).inc()
        if due is None:
            RUNS.labels(self.slug, sweep.name).inc()
            try:
                await sweep.run(self.database, self.settings)
            except Exception:  # the next interval's run tries again
                log.exception("sweep failed", extra={"app": self.slug, "sweep": sweep.name})
            return interval
        # Just after the winner's next interval falls due; the jitter spreads the processes.
        until_due = (due - utcnow()).total_seconds()
        return min(max(until_due, 0.0), interval) + random.uniform(0, min(1.0, interval / 10))

    async def _claim(self, sweep: Sweep, interval: float) -> datetime | None:
        """None when this process won the run; else when the next run falls due."""
        lease, now = self.lease, utcnow()
        async with self.database.sessionmaker() as session, session.begin():
            claimed = await session.execute(
                update(lease)
                .where(lease.name == sweep.name, lease.due_at <= now)
                .values(
                    due_at=now + timedelta(seconds=interval),
                    holder=self.name,
                    last_run_at=now,
                    runs=lease.runs + 1,
                )
            )
            if claimed.rowcount == 1:
                return None
            due: datetime | None = await session.scalar(select(lease.due_at).where(lease.name == sweep.name))
        if due is None:
            await self._create(sweep, now)
            return now  # due at once: check again
        return due

    async def _create(self, sweep: Sweep, now: datetime) -> None:
        """A sweep's first run anywhere falls due at once; a process racing us inserted it too."""
        lease = self.lease
        try:
            async with self.database.sessionmaker() as session, session.begin():
                session.add(lease(name=sweep.name, due_at=now, runs=0))
        except IntegrityError:
            pass


async def stop_sweepers(sweepers: Sequence[Sweeper | None]) -> None:
    for sweeper in sweepers:
        if sweeper is not None:
            await sweeper.stop()
