"""A reference client for the fitness app's offline sync (spec 000, section 2: store and forward).

The phone writes every workout to its own SQLite database first, as PENDING, with no network
needed. When the network is back, `sync()` signs in, uploads the PENDING rows oldest first in
batches to `POST /api/v1/sessions/batch_upload` with an `X-Idempotency-Key`, and marks each row
from the server's answer: `created` and `duplicate` become SYNCED (with the server's id),
`rejected` becomes REJECTED (with the reason, and is never sent again). The server rejects
only sessions no retry could fix (issue 12), and answers a batch of nothing but those 422 with
every item's result, which is read like a 200 or 201.

Usage::

    from keel.clients.fitness_sync import FitnessSyncClient

    phone = FitnessSyncClient(
        "http://127.0.0.1:8000",  # the fitness app's root (".../fitness" when all apps are mounted)
        "phone.db",
        email="ana@example.com",
        password="correct-horse-battery",
    )
    client_id = phone.record({"device_type": "rower", "start_time": ..., ...})  # offline is fine
    summary = phone.sync()  # SyncSummary(synced=1, rejected=0, pending=0, stopped=None)
    phone.status_of(client_id)  # LocalSession(status=Status.SYNCED, server_id="...", ...)

`sync()` never raises for an unreachable or failing server: it stops at the first network
error, 5xx or unexpected answer, leaves the rest PENDING and says why in `summary.stopped`;
calling it again later carries on. It raises `AuthenticationFailed` only when the server
refuses the email and password themselves, which no retry can fix.

Why retries are safe: each batch's key is a hash of the exact request body, so a batch resent
after a lost answer carries the same key and body, and the server replays its first answer.
Independently, the server stores a session at most once per `client_session_id` and counts it
in the user's totals once, so even a batch sent under another key never counts anything twice.
"""

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

BATCH_UPLOAD = "/api/v1/sessions/batch_upload"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    client_session_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SYNCED', 'REJECTED')),
    server_id TEXT,
    rejection_reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    recorded_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_pending ON sessions (status, recorded_at);
"""


class Status(StrEnum):
    PENDING = "PENDING"
    SYNCED = "SYNCED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class LocalSession:
    status: Status
    server_id: str | None
    rejection_reason: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class SyncSummary:
    synced: int  # rows this run marked SYNCED
    rejected: int  # rows this run marked REJECTED
    pending: int  # rows still PENDING when the run ended
    stopped: str | None = None  # why the run ended before everything was sent, if it did


class AuthenticationFailed(Exception):
    """The server refused the email and password: retrying cannot help."""


class _Stop(Exception):
    """Ends a sync run early; the rows not yet answered stay PENDING."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _json_default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class FitnessSyncClient:
    def __init__(
        self,
        base_url: str,
        database_path: str | Path,
        *,
        email: str,
        password: str,
        batch_size: int = 50,
        timeout: float = 30.0,
        conflict_retries: int = 3,
        conflict_delay: float = 1.0,
    ) -> None:
        if not 1 <= batch_size <= 500:  # the server takes at most 500 sessions a batch
            raise ValueError("batch_size must be between 1 and 500")
        self.base_url = base_url.rstrip("/")
        self.database_path = Path(database_path)
        self.email, self.password = email, password
        self.batch_size = batch_size
        self.timeout = timeout
        self.conflict_retries, self.conflict_delay = conflict_retries, conflict_delay
        # Kept between runs, as a phone keeps them between launches.
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        with self._db() as db:
            db.executescript(_SCHEMA)

    # --- the local store ----------------------------------------------------------------------

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # A connection per use: the app's UI thread can read while a sync runs in another.
        connection = sqlite3.connect(self.database_path, timeout=10)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            with connection:  # one transaction, committed on success
                yield connection
        finally:
            connection.close()

    def record(self, session: dict[str, Any]) -> str:
        """Keep one finished workout as PENDING and return its `client_session_id` (a new
        UUIDv4 when the session has none). Needs no network. Recording the same id again
        keeps the first copy."""
        body = dict(session)
        client_id = str(body.get("client_session_id") or uuid.uuid4())
        body["client_session_id"] = client_id
        now = _now()
        with self._db() as db:
            db.execute(
                "INSERT INTO sessions (client_session_id, body, recorded_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (client_session_id) DO NOTHING",
                (client_id, json.dumps(body, default=_json_default, separators=(",", ":")), now, now),
            )
        return client_id

    def pending_count(self) -> int:
        with self._db() as db:
            return db.execute("SELECT count(*) FROM sessions WHERE status = 'PENDING'").fetchone()[0]

    def status_of(self, client_id: str) -> LocalSession | None:
        with self._db() as db:
            row = db.execute(
                "SELECT status, server_id, rejection_reason, attempts FROM sessions WHERE client_session_id = ?",
                (client_id,),
            ).fetchone()
        return None if row is None else LocalSession(Status(row[0]), row[1], row[2], row[3])

    def _next_batch(self) -> list[tuple[str, str]]:
        """The oldest PENDING rows, as (client id, stored JSON), marked as attempted once more."""
        with self._db() as db:
            rows = db.execute(
                "SELECT client_session_id, body FROM sessions WHERE status = 'PENDING' "
                "ORDER BY recorded_at, rowid LIMIT ?",
                (self.batch_size,),
            ).fetchall()
            db.executemany(
                "UPDATE sessions SET attempts = attempts + 1, updated_at = ? WHERE client_session_id = ?",
                [(_now(), client_id) for client_id, _body in rows],
            )
        return rows

    def _mark(self, batch: list[tuple[str, str]], results: list[dict[str, Any]]) -> tuple[int, int]:
        """Apply the server's answer to the batch, in one local transaction."""
        synced = rejected = 0
        now = _now()
        with self._db() as db:
            # The server answers in the order it was sent, one result per session.
            for (client_id, _body), result in zip(batch, results, strict=True):
                if result.get("client_session_id") not in (None, client_id):
                    raise _Stop(f"the server answered {result.get('client_session_id')} for {client_id}")
                if result["status"] in ("created", "duplicate"):
                    db.execute(
                        "UPDATE sessions SET status = 'SYNCED', server_id = ?, rejection_reason = NULL, "
                        "updated_at = ? WHERE client_session_id = ?",
                        (result.get("id"), now, client_id),
                    )
                    synced += 1
                elif result["status"] == "rejected":
                    db.execute(
                        "UPDATE sessions SET status = 'REJECTED', rejection_reason = ?, updated_at = ? "
                        "WHERE client_session_id = ?",
                        (result.get("reason"), now, client_id),
                    )
                    rejected += 1
                else:
                    raise _Stop(f"unknown result status {result['status']!r}")
        return synced, rejected

    # --- the network --------------------------------------------------------------------------

    def sync(self) -> SyncSummary:
        """Upload every PENDING row, batch by batch, until none is left or the server cannot be
        reached; see the module docstring."""
        synced = rejected = 0
        stopped: str | None = None
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as http:
            try:
                if self._access_token is None:
                    self._login(http)
                while batch := self._next_batch():
                    results = self._upload(http, batch)
                    if len(results) != len(batch):
                        raise _Stop(f"the server answered {len(results)} results for {len(batch)} sessions")
                    done, refused = self._mark(batch, results)
                    synced, rejected = synced + done, rejected + refused
            except httpx.TransportError as error:
                stopped = f"network error: {type(error).__name__}: {error}"
            except _Stop as stop:
                stopped = str(stop)
        return SyncSummary(synced, rejected, self.pending_count(), stopped)

    def _upload(self, http: httpx.Client, batch: list[tuple[str, str]]) -> list[dict[str, Any]]:
        # The body is built from the stored JSON text, byte for byte, and the key is its hash:
        # a resent batch is the very same request, which the server replays rather than re-runs
        # (the same key with another body would be a 422).
        body = ('{"sessions":[' + ",".join(text for _id, text in batch) + "]}").encode()
        key = "batch-" + hashlib.sha256(body).hexdigest()
        conflicts = 0
        reauthenticated = False
        while True:
            response = http.post(
                BATCH_UPLOAD,
                content=body,
                headers={
                    "Authorization": f"Bearer {self._access_token}",
                    "Content-Type": "application/json",
                    "X-Idempotency-Key": key,
                },
            )
            # 422 with results: every item was rejected, each with its reason (issue 12).
            if response.status_code in (200, 201) or (
                response.status_code == 422 and "results" in response.json()
            ):
                return response.json()["results"]
            if response.status_code == 401 and not reauthenticated:
                reauthenticated = True
                self._refresh_or_login(http)
                continue
            if response.status_code == 409 and conflicts < self.conflict_retries:
                # The same batch is still running on the server (an earlier attempt whose answer
                # was lost). Its answer is stored when it finishes, and a repeat then replays it.
                conflicts += 1
                time.sleep(self.conflict_delay * conflicts)
                continue
            raise _Stop(f"batch upload answered {response.status_code}: {response.text[:200]}")

    def _login(self, http: httpx.Client) -> None:
        response = http.post(LOGIN, json={"email": self.email, "password": self.password})
        if response.status_code in (401, 422):
            raise AuthenticationFailed(f"login refused ({response.status_code}): {response.text[:200]}")
        if response.status_code != 200:
            raise _Stop(f"login answered {response.status_code}: {response.text[:200]}")
        self._keep_tokens(response.json())

    def _refresh_or_login(self, http: httpx.Client) -> None:
        if self._refresh_token is not None:
            response = http.post(REFRESH, json={"refresh_token": self._refresh_token})
            if response.status_code == 200:
                self._keep_tokens(response.json())
                return
            if response.status_code >= 500:
                raise _Stop(f"refresh answered {response.status_code}")
        # The refresh token expired, was revoked, or was rotated by a refresh whose answer was lost
        # (its reuse revokes the family): sign in again.
        self._access_token = self._refresh_token = None
        self._login(http)

    def _keep_tokens(self, pair: dict[str, Any]) -> None:
        self._access_token, self._refresh_token = pair["access_token"], pair["refresh_token"]
