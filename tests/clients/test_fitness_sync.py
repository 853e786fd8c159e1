"""The reference sync client against a real `keel serve --app fitness` process, including one
killed with SIGKILL in the middle of a sync and started again on the same data."""

import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from keel.apps.fitness.models import IdempotencyKey
from keel.clients.fitness_sync import FitnessSyncClient, LocalSession, Status, SyncSummary
from tests.serving import KEEL, KeelServe, free_port

PASSWORD = "correct-horse-battery"
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
MINUTES, XP = 10, 40


def rowing(n: int, device: str = "rower") -> dict:
    """A valid rower session (the shape of tests/apps/fitness/test_sessions.py's `workout`)."""
    start = START + timedelta(hours=n)
    return {
        "source_type": "free",
        "device_type": device,
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(minutes=MINUTES)).isoformat(),
        "duration_seconds": MINUTES * 60,
        "total_calories": 90.0,
        "total_distance_meters": 2000.0,
        "xp_earned": XP,
        "metrics_summary": {"avg_watts": 150.0, "avg_spm": 24.0},
        "time_series_data": [
            {"t": float(s), "watts": 150.0, "spm": 24.0} for s in range(0, MINUTES * 60, 60)
        ],
    }


@dataclass
class Server:
    """One `keel serve --app fitness`, which can be killed and started again on the same port
    and data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: KeelServe | None = None
    secret_key: str = "first-signing-key-" + "x" * 32

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KEEL_DATA_DIR": str(self.data_dir),
            "KEEL_ACCESS_LOG": "false",
            "KEEL_SECRET_KEY": self.secret_key,
        }

    def migrate(self) -> None:
        subprocess.run(
            [*KEEL, "migrate", "--app", "fitness"], env=self.env, capture_output=True, timeout=60, check=True
        )

    def start(self) -> None:
        self.process = KeelServe(self.env, "--app", "fitness", port=self.port)
        self.process.start()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def register(self) -> tuple[str, dict[str, str]]:
        email = f"rower-{time.monotonic_ns()}@example.com"
        created = httpx.post(
            f"{self.base}/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Rower"},
        )
        assert created.status_code == 201, created.text
        return email, {"Authorization": f"Bearer {created.json()['access_token']}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "server")
    try:
        running.migrate()
        running.start()
        yield running
    finally:
        running.kill()


def held_idempotency_keys(data_dir: Path) -> int:
    """Keys whose request was claimed but never answered: the server died while running it."""
    with sqlite3.connect(data_dir / "fitness.db") as db:
        table = IdempotencyKey.__tablename__
        return db.execute(f"SELECT count(*) FROM {table} WHERE status_code IS NULL").fetchone()[0]


def age_held_idempotency_keys(data_dir: Path) -> None:
    """What waiting out the server's lease on a dead request's key (five minutes) would do."""
    with sqlite3.connect(data_dir / "fitness.db") as db:
        table = IdempotencyKey.__tablename__
        db.execute(
            f"UPDATE {table} SET created_at = ? WHERE status_code IS NULL",
            ((datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f"),),
        )


def test_a_sync_killed_midway_finishes_later_with_every_session_stored_and_counted_once(
    server: Server, tmp_path: Path
) -> None:
    email, headers = server.register()
    phone = FitnessSyncClient(
        server.base,
        tmp_path / "phone.db",
        email=email,
        password=PASSWORD,
        batch_size=10,
        conflict_retries=2,
        conflict_delay=0.1,
    )
    ids = [phone.record(rowing(n)) for n in range(200)]
    assert phone.pending_count() == 200

    outcome: list[SyncSummary] = []
    syncing = threading.Thread(target=lambda: outcome.append(phone.sync()))
    syncing.start()
    try:
        deadline = time.monotonic() + 20
        while phone.pending_count() > 200 - 30 and syncing.is_alive():
            assert time.monotonic() < deadline, "the sync made no progress"
            time.sleep(0.002)
        server.kill()
    finally:
        syncing.join(timeout=30)
    assert not syncing.is_alive()

    [first] = outcome
    assert 30 <= first.synced < 200, first
    assert first.pending == 200 - first.synced and first.rejected == 0
    assert first.stopped is not None and "network error" in first.stopped

    # When the kill landed while the server was storing a batch (it depends on timing), that
    # batch's idempotency key stays claimed and a repeat is 409 until the claim's five-minute
    # lease runs out: the client gives up for now, cleanly, and the test then ages the claim.
    held = held_idempotency_keys(server.data_dir)
    server.start()
    second = phone.sync()
    if held:
        assert second.pending > 0 and second.stopped is not None and "409" in second.stopped, second
        server.kill()
        age_held_idempotency_keys(server.data_dir)
        server.start()
        second = phone.sync()
    assert second.pending == 0 and second.stopped is None, second
    assert all(phone.status_of(client_id).status is Status.SYNCED for client_id in ids)
    assert all(phone.status_of(client_id).server_id for client_id in ids)

    listed = httpx.get(f"{server.base}/api/v1/sessions", params={"limit": 1}, headers=headers).json()
    assert listed["total"] == 200
    stats = httpx.get(f"{server.base}/api/v1/users/me", headers=headers).json()["stats"]
    assert stats["total_xp"] == 200 * XP
    assert stats["total_duration_seconds"] == 200 * MINUTES * 60

    # Nothing left to send, and another run sends nothing.
    assert phone.sync() == SyncSummary(synced=0, rejected=0, pending=0)


def test_a_rejected_session_keeps_its_reason_and_is_never_sent_again(server: Server, tmp_path: Path) -> None:
    email, headers = server.register()
    phone = FitnessSyncClient(server.base, tmp_path / "phone.db", email=email, password=PASSWORD)
    unusable = rowing(1)
    unusable["start_time"] = (START + timedelta(hours=2)).isoformat()  # after its end
    broken = phone.record(unusable)

    # A batch of nothing but rejected sessions is a 422 with every item's result, not a stop.
    assert phone.sync() == SyncSummary(synced=0, rejected=1, pending=0)
    refused = phone.status_of(broken)
    assert refused is not None and refused.status is Status.REJECTED
    assert refused.rejection_reason and "before start_time" in refused.rejection_reason

    # A machine the server does not know is a warning, not a rejection: the workout is kept.
    elliptical = phone.record(rowing(0, device="elliptical"))
    assert phone.sync() == SyncSummary(synced=1, rejected=0, pending=0)
    assert phone.status_of(elliptical).status is Status.SYNCED
    assert phone.sync() == SyncSummary(synced=0, rejected=0, pending=0)
    assert phone.status_of(broken).attempts == 1
    listed = httpx.get(f"{server.base}/api/v1/sessions", headers=headers).json()
    assert listed["total"] == 1


def test_a_refused_access_token_is_refreshed(server: Server, tmp_path: Path) -> None:
    email, _headers = server.register()
    phone = FitnessSyncClient(server.base, tmp_path / "phone.db", email=email, password=PASSWORD)
    phone.record(rowing(0))
    assert phone.sync().synced == 1

    # A new signing key refuses every access token issued before; refresh tokens live on.
    server.kill()
    server.secret_key = "second-signing-key-" + "y" * 32
    server.start()
    later = phone.record(rowing(1))
    assert phone.sync() == SyncSummary(synced=1, rejected=0, pending=0)
    assert phone.status_of(later).status is Status.SYNCED


def test_recording_needs_no_server_and_a_sync_without_one_leaves_everything_pending(
    tmp_path: Path,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    phone = FitnessSyncClient(nobody, tmp_path / "phone.db", email="a@example.com", password=PASSWORD)
    ids = [phone.record(rowing(n)) for n in range(3)]
    assert phone.record({**rowing(0), "client_session_id": ids[0]}) == ids[0]  # kept once

    summary = phone.sync()
    assert (summary.synced, summary.rejected, summary.pending) == (0, 0, 3)
    assert summary.stopped is not None and "network error" in summary.stopped
    assert all(phone.status_of(client_id).status is Status.PENDING for client_id in ids)


def test_a_second_phone_learns_what_the_first_stored_and_deleted(server: Server, tmp_path: Path) -> None:
    email, headers = server.register()
    first = FitnessSyncClient(server.base, tmp_path / "first.db", email=email, password=PASSWORD)
    second = FitnessSyncClient(server.base, tmp_path / "second.db", email=email, password=PASSWORD)
    ids = [first.record(rowing(n)) for n in range(3)]
    assert first.sync() == SyncSummary(synced=3, rejected=0, pending=0)

    # Its first run reads the whole list.
    assert second.sync() == SyncSummary(synced=0, rejected=0, pending=0, received=3)
    assert all(second.status_of(client_id).status is Status.SYNCED for client_id in ids)

    # Deleted offline on the first phone: the server hears of it at the next sync...
    first.delete(ids[1])
    assert first.status_of(ids[1]).status is Status.DELETING
    assert first.sync() == SyncSummary(synced=0, rejected=0, pending=0, removed=1)
    assert httpx.get(f"{server.base}/api/v1/sessions", headers=headers).json()["total"] == 2
    # ...and the second phone from the change feed, with nothing else changed.
    assert second.sync() == SyncSummary(synced=0, rejected=0, pending=0, removed=1)
    assert [second.status_of(client_id).status for client_id in ids] == [
        Status.SYNCED,
        Status.DELETED,
        Status.SYNCED,
    ]
    assert second.sync() == SyncSummary(synced=0, rejected=0, pending=0)

    # A session the second phone recorded reaches the first.
    later = second.record(rowing(5))
    assert second.sync().synced == 1
    assert first.sync() == SyncSummary(synced=0, rejected=0, pending=0, received=1)
    assert first.status_of(later).status is Status.SYNCED
    stats = httpx.get(f"{server.base}/api/v1/users/me", headers=headers).json()["stats"]
    assert stats["total_xp"] == 3 * XP


def test_warnings_are_kept_and_a_session_from_the_future_waits_instead_of_being_rejected(
    server: Server, tmp_path: Path
) -> None:
    email, _headers = server.register()
    phone = FitnessSyncClient(server.base, tmp_path / "phone.db", email=email, password=PASSWORD)
    rower = phone.record({**rowing(0), "metrics_summary": {"avg_watts": 150.0, "drag_factor": 120}})
    ahead = rowing(0)
    ahead["start_time"] = (datetime.now(UTC) + timedelta(hours=2)).isoformat()  # the phone's clock ran ahead
    ahead["end_time"] = (datetime.now(UTC) + timedelta(hours=2, minutes=MINUTES)).isoformat()
    waiting = phone.record(ahead)

    assert phone.sync() == SyncSummary(synced=1, rejected=0, pending=1)
    stored = phone.status_of(rower)
    assert stored.status is Status.SYNCED
    assert any("drag_factor" in warning for warning in stored.warnings), stored.warnings
    kept = phone.status_of(waiting)
    assert kept.status is Status.PENDING and "future" in kept.rejection_reason
    # Not sent again within the hour: the server's clock has not caught up.
    assert phone.sync() == SyncSummary(synced=0, rejected=0, pending=1)
    assert phone.status_of(waiting).attempts == 1


def test_a_phone_database_of_the_first_version_is_carried_forward(tmp_path: Path) -> None:
    path = tmp_path / "phone.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE sessions (
                client_session_id TEXT PRIMARY KEY, body TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SYNCED', 'REJECTED')),
                server_id TEXT, rejection_reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,
                recorded_at TEXT NOT NULL, updated_at TEXT NOT NULL
            );
            CREATE INDEX sessions_pending ON sessions (status, recorded_at);
            INSERT INTO sessions VALUES ('kept', '{}', 'SYNCED', 'server-1', NULL, 1, '2026-01-01', '2026-01-01');
            """
        )
    phone = FitnessSyncClient("http://127.0.0.1:1", path, email="a@example.com", password=PASSWORD)
    assert phone.status_of("kept") == LocalSession(Status.SYNCED, "server-1", None, 1, ())
    phone.delete("kept")
    assert phone.status_of("kept").status is Status.DELETING
