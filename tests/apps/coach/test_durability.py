"""A task accepted by a server that is killed before running it completes after a restart:
the job is a row in the app's database, not a promise in the process's memory."""

import asyncio
import os
import signal
import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx

import keel
from keel.core.db import Database
from tests.apps.coach import builders
from tests.serving import KEEL, KeelServe, serving

SRC = str(Path(keel.__file__).resolve().parent.parent)


def _env(database: Database, data_dir: Path, *, worker: bool) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": SRC,
        "KEEL_ENV": "test",
        "KEEL_DATA_DIR": str(data_dir),
        "KEEL_SECRET_KEY": "d" * 48,
        "KEEL_COACH_DATABASE_URL": database.url,
        "KEEL_WORKER_IN_SERVE": "true" if worker else "false",
        "KEEL_JOB_POLL_SECONDS": "0.2",
        "KEEL_ACCESS_LOG": "false",
        "KEEL_LOG_LEVEL": "WARNING",
    }


def _serve(
    database: Database, data_dir: Path, *, worker: bool, port: int | None = None
) -> AbstractContextManager[KeelServe]:
    return serving(_env(database, data_dir, worker=worker), "--app", "coach", port=port)


def _work(env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [*KEEL, "worker", "--app", "coach"]
    return subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.DEVNULL)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


async def test_a_task_accepted_before_a_crash_completes_after_the_restart(
    coach: httpx.AsyncClient, coach_database: Database, tmp_path: Path
) -> None:
    with _serve(coach_database, tmp_path, worker=False) as first:
        async with httpx.AsyncClient(base_url=first.url) as client:
            who = await builders.member(client)
            await builders.record(client, who, "workout")
            accepted = await client.post(
                "/api/v1/ai/review", json={"date": builders.DAY}, headers=who.headers
            )
            assert accepted.status_code == 202
            task_path = f"/api/v1/ai/tasks/{accepted.json()['id']}"
            assert (await client.get(task_path, headers=who.headers)).json()["status"] == "queued"
        first.kill()

    with _serve(coach_database, tmp_path, worker=True, port=first.port) as second:
        async with httpx.AsyncClient(base_url=second.url) as client:
            deadline = time.monotonic() + 20
            status = None
            while time.monotonic() < deadline:
                status = (await client.get(task_path, headers=who.headers)).json()["status"]
                if status == "succeeded":
                    break
                await asyncio.sleep(0.2)
            assert status == "succeeded"
            day = (await client.get(f"/api/v1/day-logs/{builders.DAY}", headers=who.headers)).json()
            assert day["ai_report"]["task_id"] == accepted.json()["id"]


async def test_keel_worker_runs_the_jobs_a_server_without_a_worker_accepted(
    coach: httpx.AsyncClient, coach_database: Database, tmp_path: Path
) -> None:
    worker = None
    try:
        with _serve(coach_database, tmp_path, worker=False) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                who = await builders.member(client)
                accepted = await client.post("/api/v1/ai/tomorrow-plan", json={}, headers=who.headers)
                task_path = f"/api/v1/ai/tasks/{accepted.json()['id']}"
                worker = _work(_env(coach_database, tmp_path, worker=False))
                deadline = time.monotonic() + 20
                status = None
                while time.monotonic() < deadline and status != "succeeded":
                    await asyncio.sleep(0.2)
                    status = (await client.get(task_path, headers=who.headers)).json()["status"]
                assert status == "succeeded"
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(15) == 0
    finally:
        if worker is not None and worker.poll() is None:
            _kill(worker)
