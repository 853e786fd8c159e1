"""Durable background jobs, stored in the app's own database.

A job is a row (`JobMixin`), added in the request's transaction: it exists exactly when the
work that asked for it was committed, and it survives any crash after that. Workers claim
jobs with a lease: `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL and MariaDB, so workers
never wait on each other; a conditional UPDATE on SQLite, which has one writer anyway. A
claimed job's `run_after` is its lease's end, so one condition (`status` queued or running and
`run_after` passed) finds both new jobs and jobs whose worker died mid-run. A failed run is
retried with exponential backoff until `max_attempts`. A job whose worker died on its last
attempt (killed, out of memory) is never claimed again: the next claim marks it `failed`.

A worker runs inside `keel serve` (the app's start-up hook) and as `keel worker` processes;
any number of them share one table. Jobs a request enqueues wake the worker of its own process
at once; other processes find them on their next poll.
"""

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import Index, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from keel.core.db import Database, JSONColumn, after_commit, utcnow
from keel.core.sql import dialect_of
from keel.settings import Settings

log = logging.getLogger("keel.jobs")

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
FINISHED = (SUCCEEDED, FAILED)
# The error of the run no worker reported (`attempts` says how many runs there were).
LEASE_EXPIRED = "worker died: its lease expired on the last attempt"
MAX_BACKOFF_SECONDS = 300


class JobMixin:
    """An app's jobs table: `class Job(JobMixin, Base)`."""

    __tablename__ = "jobs"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            Index(f"ix_{cls.__tablename__}_status_run_after", "status", "run_after"),
            # Retention prunes finished jobs by it (core/retention.py).
            Index(f"ix_{cls.__tablename__}_finished_at", "finished_at"),
        )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    # When a queued job may run, or when a running job's lease ends.
    run_after: Mapped[datetime]
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class PermanentJobError(Exception):
    """Raised by a handler for a failure no retry can fix: the job fails at once."""


@dataclass(frozen=True, slots=True)
class JobContext:
    job_id: int
    attempt: int
    max_attempts: int
    database: Database
    settings: Settings

    @property
    def final_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]


class JobQueue:
    """One app's queue over its `JobMixin` table, with the handlers for each kind of job.

    `lease`: how long a run may take before another worker takes the job over (or, after its
    last attempt, marks it failed); keep each handler's own timeouts inside it.
    """

    def __init__(self, model: Any, *, lease: timedelta = timedelta(seconds=120), max_attempts: int = 5):
        self.model = model
        self.lease = lease
        self.max_attempts = max_attempts
        self.handlers: dict[str, Handler] = {}

    def handler(self, kind: str) -> Callable[[Handler], Handler]:
        def register(function: Handler) -> Handler:
            self.handlers[kind] = function
            return function

        return register

    async def enqueue(
        self,
        session: AsyncSession,
        kind: str,
        payload: dict[str, Any],
        *,
        request: Request | None = None,
        delay: timedelta = timedelta(0),
    ) -> int:
        """Add a job in the caller's transaction; with `request`, this process's worker is
        woken once the transaction commits."""
        if kind not in self.handlers:
            raise ValueError(f"no handler for jobs of kind {kind!r}")
        now = utcnow()
        job = self.model(
            kind=kind,
            payload=payload,
            status=QUEUED,
            attempts=0,
            max_attempts=self.max_attempts,
            run_after=now + delay,
            created_at=now,
        )
        session.add(job)
        await session.flush()
        if request is not None:
            worker: Worker | None = getattr(request.app.state, "jobs_worker", None)
            if worker is not None:

                async def wake() -> None:
                    worker.wake()

                after_commit(request, wake)
        return job.id

    async def start(self, api: FastAPI) -> None:
        """The app's start-up hook: a worker inside the server process, unless turned off."""
        settings: Settings = api.state.settings
        if not settings.worker_in_serve:
            return
        worker = Worker(self, api.state.database, settings)
        api.state.jobs_worker = worker
        worker.start()

    async def stop(self, api: FastAPI) -> None:
        worker: Worker | None = getattr(api.state, "jobs_worker", None)
        if worker is not None:
            await worker.stop()


def _failed_at(now: datetime) -> dict[str, Any]:
    return {"status": FAILED, "finished_at": now, "locked_by": None, "last_error": LEASE_EXPIRED}


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class Worker:
    """Claims and runs jobs until stopped, `concurrency` at a time."""

    def __init__(self, queue: JobQueue, database: Database, settings: Settings):
        self.queue = queue
        self.database = database
        self.settings = settings
        self.concurrency = settings.job_concurrency
        self.poll_seconds = settings.job_poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._loop = asyncio.create_task(self.run(), name=f"keel-worker-{self.name}")

    async def stop(self, grace: float = 10.0) -> None:
        """Finish what is running (for up to `grace` seconds); what is cut off is taken over by
        another worker when its lease ends."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            await self._loop
        if self._running:
            _done, pending = await asyncio.wait(self._running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def run(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._running)
            claimed: list[_Claimed] = []
            if free > 0:
                try:
                    claimed = await self.claim(free)
                except Exception:  # the database may be restarting: keep polling
                    log.exception("claiming jobs failed")
            for job in claimed:
                task = asyncio.create_task(self._run_one(job))
                self._running.add(task)
                task.add_done_callback(self._finished)
            if len(claimed) == free and free > 0:
                continue  # there may be more waiting
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot is free

    async def run_until_idle(self) -> None:
        """Run every job that is due now, then return (for tests and one-off runs)."""
        while claimed := await self.claim(self.concurrency):
            await asyncio.gather(*(self._run_one(job) for job in claimed))

    def _claimable(self, now: datetime) -> Any:
        model = self.queue.model
        return (
            model.status.in_((QUEUED, RUNNING))
            & (model.run_after <= now)
            & (model.attempts < model.max_attempts)
        )

    def _exhausted(self, now: datetime) -> Any:
        """Running jobs whose lease ran out on their last attempt: their worker died (or overran)."""
        model = self.queue.model
        return (model.status == RUNNING) & (model.run_after <= now) & (model.attempts >= model.max_attempts)

    async def claim(self, limit: int) -> list[_Claimed]:
        model, now = self.queue.model, utcnow()
        lease_end = now + self.queue.lease
        claim_values = {
            "status": RUNNING,
            "run_after": lease_end,
            "locked_by": self.name,
            "attempts": model.attempts + 1,
        }
        columns = (model.id, model.kind, model.payload, model.attempts, model.max_attempts)
        if dialect_of(self.database) == "sqlite":
            # One writer at a time: a conditional update is the lock; losing a race claims nothing.
            async with self.database.sessionmaker() as session:
                await session.execute(update(model).where(self._exhausted(now)).values(**_failed_at(now)))
                ids = (
                    await session.scalars(
                        select(model.id).where(self._claimable(now)).order_by(model.run_after).limit(limit)
                    )
                ).all()
                won = []
                for job_id in ids:
                    result = await session.execute(
                        update(model).where(model.id == job_id, self._claimable(now)).values(**claim_values)
                    )
                    if result.rowcount == 1:
                        won.append(job_id)
                await session.commit()
                rows = (await session.execute(select(*columns).where(model.id.in_(won)))).all() if won else []
        else:
            async with self.database.sessionmaker() as session, session.begin():
                # Locked rows are another worker's to fail; waiting on them could deadlock.
                dead = (
                    await session.scalars(
                        select(model.id).where(self._exhausted(now)).with_for_update(skip_locked=True)
                    )
                ).all()
                if dead:
                    await session.execute(update(model).where(model.id.in_(dead)).values(**_failed_at(now)))
                ids = (
                    await session.scalars(
                        select(model.id)
                        .where(self._claimable(now))
                        .order_by(model.run_after)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                if not ids:
                    return []
                await session.execute(update(model).where(model.id.in_(ids)).values(**claim_values))
                rows = (await session.execute(select(*columns).where(model.id.in_(ids)))).all()
        return [_Claimed(*row) for row in rows]

    async def _run_one(self, job: _Claimed) -> None:
        handler = self.queue.handlers.get(job.kind)
        context = JobContext(job.id, job.attempts, job.max_attempts, self.database, self.settings)
        try:
            if handler is None:
                raise PermanentJobError(f"no handler for jobs of kind {job.kind!r}")
            await handler(context, job.payload)
        except asyncio.CancelledError:
            raise  # stopped: the lease runs out and another worker takes the job over
        except Exception as error:
            permanent = isinstance(error, PermanentJobError) or context.final_attempt
            log.warning(
                "job failed",
                exc_info=error,
                extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "final": permanent},
            )
            await self._finish(job, error=f"{type(error).__name__}: {error}"[:2000], retry=not permanent)
            return
        await self._finish(job)

    async def _finish(self, job: _Claimed, *, error: str | None = None, retry: bool = False) -> None:
        model, now = self.queue.model, utcnow()
        if error is None:
            values: dict[str, Any] = {"status": SUCCEEDED, "finished_at": now, "last_error": None}
        elif retry:
            backoff = min(2**job.attempts, MAX_BACKOFF_SECONDS) * random.uniform(0.5, 1.0)
            values = {"status": QUEUED, "run_after": now + timedelta(seconds=backoff), "last_error": error}
        else:
            values = {"status": FAILED, "finished_at": now, "last_error": error}
        # Only while this run still holds the job: after a lost lease another worker owns it.
        async with self.database.sessionmaker() as session, session.begin():
            await session.execute(
                update(model)
                .where(model.id == job.id, model.locked_by == self.name, model.attempts == job.attempts)
                .values(locked_by=None, **values)
            )
