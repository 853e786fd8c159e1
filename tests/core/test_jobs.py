"""Jobs whose worker dies: a job killed mid-run is taken over until it has used its attempts,
then it ends `failed` and is never claimed again, on every dialect (core/jobs.py)."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select

import keel
from keel.apps.coach.models import Job
from keel.core.db import Database
from keel.core.jobs import FAILED, LEASE_EXPIRED, RUNNING, JobQueue, Worker
from keel.settings import Settings

SRC = str(Path(keel.__file__).resolve().parent.parent)
LEASE = timedelta(seconds=1)

# A worker process on a test queue over coach's jobs table, whose one handler never returns:
# the test kills the process while the job runs.
WORKER = """
import asyncio, sys
from datetime import timedelta
from keel.apps.coach.models import Job
from keel.core.db import Database
from keel.core.jobs import JobQueue, Worker
from keel.settings import Settings

queue = JobQueue(Job, lease=timedelta(seconds=1), max_attempts=2)

@queue.handler("hang")
async def hang(context, payload):
    await asyncio.Event().wait()

async def main():
    settings = Settings(env="test", secret_key="j" * 48, job_poll_seconds=0.1)
    await Worker(queue, Database(sys.argv[1]), settings).run()

asyncio.run(main())
"""


def _queue() -> JobQueue:
    queue = JobQueue(Job, lease=LEASE, max_attempts=2)

    @queue.handler("hang")
    async def never_called(_context: object, _payload: object) -> None:
        raise AssertionError("a job past its attempts was claimed again")

    return queue


async def _job(database: Database, job_id: int) -> Job:
    async with database.sessionmaker() as session:
        return (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()


def _start_worker(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url],
        env={**os.environ, "PYTHONPATH": SRC},
        start_new_session=True,
        stderr=subprocess.PIPE,
    )


async def _run_and_kill(database: Database, job_id: int, attempt: int) -> None:
    """Start a worker process, wait until it runs the job's `attempt`-th run, SIGKILL it."""
    process = _start_worker(database.url)
    try:
        deadline = time.monotonic() + 30
        while True:
            job = await _job(database, job_id)
            if job.status == RUNNING and job.attempts == attempt:
                break
            assert process.poll() is None, process.stderr.read().decode()[-3000:] if process.stderr else ""
            assert time.monotonic() < deadline, f"the worker never ran attempt {attempt}: {job.status}"
            await asyncio.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


async def test_a_job_whose_worker_is_killed_on_every_attempt_ends_failed_and_stays_failed(
    coach_database: Database, settings: Settings
) -> None:
    queue = _queue()
    async with coach_database.sessionmaker() as session:
        job_id = await queue.enqueue(session, "hang", {})
        await session.commit()
    try:
        await _run_and_kill(coach_database, job_id, attempt=1)
        # The first run's lease ends: another worker takes the job over, and is killed too.
        await _run_and_kill(coach_database, job_id, attempt=2)

        await asyncio.sleep(LEASE.total_seconds())
        worker = Worker(queue, coach_database, settings)
        assert await worker.claim(10) == []
        job = await _job(coach_database, job_id)
        assert (job.status, job.attempts, job.last_error, job.locked_by) == (FAILED, 2, LEASE_EXPIRED, None)
        assert job.finished_at is not None

        await worker.run_until_idle()  # the handler raises if it is ever given the job
        assert (await _job(coach_database, job_id)).status == FAILED
    finally:
        async with coach_database.sessionmaker() as session:
            await session.execute(delete(Job).where(Job.id == job_id))
            await session.commit()
