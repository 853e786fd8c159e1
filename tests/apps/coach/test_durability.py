"""A task accepted by a server that is killed before running it completes after a restart:
the job is a row in the app's database, not a promise in the process's memory."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import keel
from keel.core.db import Database
from tests.apps.coach import builders

SRC = str(Path(keel.__file__).resolve().parent.parent)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def _serve(database: Database, data_dir: Path, port: int, *, worker: bool) -> subprocess.Popen[bytes]:
    env = _env(database, data_dir, worker=worker)
    command = [sys.executable, "-m", "keel", "serve", "--app", "coach", "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()[-3000:] if process.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def _work(env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "keel", "worker", "--app", "coach"]
    return subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.DEVNULL)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


async def test_a_task_accepted_before_a_crash_completes_after_the_restart(
    coach: httpx.AsyncClient, coach_database: Database, tmp_path: Path
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    first = _serve(coach_database, tmp_path, port, worker=False)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            who = await builders.member(client)
            await builders.record(client, who, "workout")
            accepted = await client.post(
                "/api/v1/ai/review", json={"date": builders.DAY}, headers=who.headers
            )
            assert accepted.status_code == 202
            task_path = f"/api/v1/ai/tasks/{accepted.json()['id']}"
            assert (await client.get(task_path, headers=who.headers)).json()["status"] == "queued"
    finally:
        _kill(first)

    second = _serve(coach_database, tmp_path, port, worker=True)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
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
    finally:
        _kill(second)


async def test_keel_worker_runs_the_jobs_a_server_without_a_worker_accepted(
    coach: httpx.AsyncClient, coach_database: Database, tmp_path: Path
) -> None:
    port = _free_port()
    server = _serve(coach_database, tmp_path, port, worker=False)
    worker = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
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
        _kill(server)
        if worker is not None and worker.poll() is None:
            _kill(worker)
