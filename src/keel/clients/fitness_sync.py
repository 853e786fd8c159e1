"""A reference client for the fitness app's offline sync (spec 000, section 2: store and forward).

The phone writes every workout to its own SQLite database first, as PENDING, with no network
needed. When the network is back, `sync()` signs in and:

1. sends the deletes made offline (`delete()`), each `DELETE /api/v1/sessions/{client id}`:
   204 (deleted now, or already) and 404 (never stored) both mean done;
2. uploads the PENDING rows oldest first in batches to `POST /api/v1/sessions/batch_upload`
   with an `X-Idempotency-Key`, and marks each row from the server's answer: `created` and
   `duplicate` become SYNCED (with the server's id and any `warnings`: what the server stored
   without understanding it), `rejected` becomes REJECTED (with the reason, never sent again),
   except a `retryable` rejection (a start time the server's clock has not reached), which
   stays PENDING and is sent again an hour later. The server rejects only sessions no retry
   could fix (issue 12), and answers a batch of nothing but those 422 with every item's
   result, which is read like a 200 or 201;
3. reads what changed on the server since the last run (`GET /api/v1/sessions?cursor=`):
   sessions another phone stored are added as SYNCED (`received`), and sessions deleted on any
   phone become DELETED (`removed`). The first run, or a run after the server has forgotten
   the position (410), reads the whole list instead and carries on from there.

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
error, 5xx or unexpected answer, leaves the rest as it was and says why in `summary.stopped`;
calling it again later carries on. It raises `AuthenticationFailed` only when the server
refuses the email and password themselves, which no retry can fix.

Why retries are safe: each batch's key is a hash of the exact request body, so a batch resent
after a lost answer carries the same key and body, and the server replays its first answer.
Independently, the server stores a session at most once per `client_session_id` and counts it
in the user's totals once, so even a batch sent under another key never counts anything twice;
a deleted session's tombstone keeps an upload from bringing it back.
"""

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

BATCH_UPLOAD = "/api/v1/sessions/batch_upload"
SESSIONS = "/api/v1/sessions"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
# A session rejected as starting in the future is sent again this long after.
RETRY_AFTER = timedelta(hours=1)
# A full read starts the change feed this long before it began: the phone's clock may be ahead.
CLOCK_MARGIN = timedelta(minutes=10)

_SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    client_session_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'SYNCED', 'REJECTED', 'DELETING', 'DELETED')),
    server_id TEXT,
    rejection_reason TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_after TEXT,
    recorded_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_pending ON sessions (status, recorded_at);
CREATE TABLE IF NOT EXISTS sync_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Version 1 had no warnings, retries, deletes or change feed: its rows are copied over.
_FROM_VERSION_1 = (
    """
ALTER TABLE sessions RENAME TO sessions_v1;
DROP INDEX IF EXISTS sessions_pending;
"""
    + _SCHEMA
    + """
INSERT INTO sessions (client_session_id, body, status, server_id, rejection_reason, attempts,
                      recorded_at, updated_at)
SELECT client_session_id, body, status, server_id, rejection_reason, attempts, recorded_at, updated_at
FROM sessions_v1;
DROP TABLE sessions_v1;
"""
)


class Status(StrEnum):
    PENDING = "PENDING"
    SYNCED = "SYNCED"
    REJECTED = "REJECTED"
    DELETING = "DELETING"  # deleted on this phone, the server not told yet
    DELETED = "DELETED"  # deleted here or on another phone, and the server knows


@dataclass(frozen=True, slots=True)
class LocalSession:
    status: Status
    server_id: str | None
    rejection_reason: str | None
    attempts: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SyncSummary:
    synced: int  # rows this run marked SYNCED
    rejected: int  # rows this run marked REJECTED
    pending: int  # rows still PENDING when the run ended
    stopped: str | None = None  # why the run ended before everything was sent, if it did
    received: int = 0  # sessions another phone stored, added here as SYNCED
    removed: int = 0  # rows this run marked DELETED: deleted on another phone, or here and sent


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
            version = db.execute("PRAGMA user_version").fetchone()[0]
            existing = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sessions'").fetchone()
            db.executescript(_FROM_VERSION_1 if existing and version < _SCHEMA_VERSION else _SCHEMA)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

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
                "SELECT status, server_id, rejection_reason, attempts, warnings FROM sessions "
                "WHERE client_session_id = ?",
                (client_id,),
            ).fetchone()
        return None if row is None else LocalSession(Status(row[0]), *row[1:4], tuple(json.loads(row[4])))

    def delete(self, client_id: str) -> None:
        """Delete a workout on this phone; the next sync tells the server (a row never sent is
        told too: an upload whose answer was lost may have stored it)."""
        with self._db() as db:
            db.execute(
                "UPDATE sessions SET status = 'DELETING', updated_at = ? "
                "WHERE client_session_id = ? AND status != 'DELETED'",
                (_now(), client_id),
            )

    def _next_batch(self) -> list[tuple[str, str]]:
        """The oldest PENDING rows due, as (client id, stored JSON), marked as attempted once more."""
        with self._db() as db:
            rows = db.execute(
                "SELECT client_session_id, body FROM sessions WHERE status = 'PENDING' "
                "AND (retry_after IS NULL OR retry_after <= ?) ORDER BY recorded_at, rowid LIMIT ?",
                (_now(), self.batch_size),
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
                        "warnings = ?, retry_after = NULL, updated_at = ? WHERE client_session_id = ?",
                        (result.get("id"), json.dumps(result.get("warnings") or []), now, client_id),
                    )
                    synced += 1
                elif result["status"] == "rejected" and result.get("retryable"):
                    # Nothing to fix in it: the server's clock has not reached its start yet.
                    db.execute(
                        "UPDATE sessions SET rejection_reason = ?, retry_after = ?, updated_at = ? "
                        "WHERE client_session_id = ?",
                        (result.get("reason"), (datetime.now(UTC) + RETRY_AFTER).isoformat(), now, client_id),
                    )
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
        synced = rejected = received = removed = 0
        stopped: str | None = None
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as http:
            try:
                if self._access_token is None:
                    self._login(http)
                removed += self._send_deletes(http)
                while batch := self._next_batch():
                    results = self._upload(http, batch)
                    if len(results) != len(batch):
                        raise _Stop(f"the server answered {len(results)} results for {len(batch)} sessions")
                    done, refused = self._mark(batch, results)
                    synced, rejected = synced + done, rejected + refused
                got, gone = self._catch_up(http)
                received, removed = received + got, removed + gone
            except httpx.TransportError as error:
                stopped = f"network error: {type(error).__name__}: {error}"
            except _Stop as stop:
                stopped = str(stop)
        return SyncSummary(synced, rejected, self.pending_count(), stopped, received, removed)

    def _send_deletes(self, http: httpx.Client) -> int:
        with self._db() as db:
            deleting = [
                row[0]
                for row in db.execute("SELECT client_session_id FROM sessions WHERE status = 'DELETING'")
            ]
        for client_id in deleting:
            # 204: deleted now or before; 404: it never reached the server. Done either way.
            self._call(http, "DELETE", f"{SESSIONS}/{client_id}", ok=(204, 404))
            with self._db() as db:
                db.execute(
                    "UPDATE sessions SET status = 'DELETED', updated_at = ? "
                    "WHERE client_session_id = ? AND status = 'DELETING'",
                    (_now(), client_id),
                )
        return len(deleting)

    # --- what changed on the server ----------------------------------------------------------

    def _catch_up(self, http: httpx.Client) -> tuple[int, int]:
        """Apply the server's changes since the last run: (sessions received, rows deleted)."""
        received = removed = 0
        position = self._state("cursor")
        if position is None:
            return self._read_everything(http)
        while True:
            response = self._call(http, "GET", SESSIONS, params=json.loads(position), ok=(200, 410))
            if response.status_code == 410:  # away longer than the server remembers deletions
                return self._read_everything(http)
            page = response.json()
            got, gone = self._apply_changes(page["items"])
            received, removed = received + got, removed + gone
            position = json.dumps({"cursor": page["cursor"]})
            self._keep_state("cursor", position)
            if not page["has_more"]:
                return received, removed

    def _read_everything(self, http: httpx.Client) -> tuple[int, int]:
        """Every session the server holds, page by page: the ones missing here are added, and
        synced ones the server no longer has are deleted. The change feed starts from here."""
        began = datetime.now(UTC) - CLOCK_MARGIN
        held: list[dict[str, Any]] = []
        page_number = 1
        while True:
            params = {"page": page_number, "limit": 100}
            page = self._call(http, "GET", SESSIONS, params=params, ok=(200,)).json()
            held += page["items"]
            if page_number >= page["total_pages"]:
                break
            page_number += 1
        received, _ = self._apply_changes([item | {"deleted": False} for item in held])
        on_server = {item["client_session_id"] for item in held}
        with self._db() as db:
            synced = [
                row[0] for row in db.execute("SELECT client_session_id FROM sessions WHERE status = 'SYNCED'")
            ]
            gone = [client_id for client_id in synced if client_id not in on_server]
            db.executemany(
                "UPDATE sessions SET status = 'DELETED', updated_at = ? WHERE client_session_id = ?",
                [(_now(), client_id) for client_id in gone],
            )
        self._keep_state("cursor", json.dumps({"updated_since": began.isoformat()}))
        return received, len(gone)

    def _apply_changes(self, items: list[dict[str, Any]]) -> tuple[int, int]:
        """Sessions stored elsewhere are added; deleted ones are marked DELETED, whatever state
        they had here. An item seen before (the feed may repeat its last minute) changes nothing."""
        received = removed = 0
        now = _now()
        with self._db() as db:
            for item in items:
                client_id = item["client_session_id"]
                if item["deleted"]:
                    removed += db.execute(
                        "UPDATE sessions SET status = 'DELETED', updated_at = ? "
                        "WHERE client_session_id = ? AND status != 'DELETED'",
                        (now, client_id),
                    ).rowcount
                else:
                    received += db.execute(
                        "INSERT INTO sessions (client_session_id, body, status, server_id, recorded_at, updated_at) "
                        "VALUES (?, ?, 'SYNCED', ?, ?, ?) ON CONFLICT (client_session_id) DO NOTHING",
                        (client_id, json.dumps(item, separators=(",", ":")), item["id"], now, now),
                    ).rowcount
        return received, removed

    def _state(self, name: str) -> str | None:
        with self._db() as db:
            row = db.execute("SELECT value FROM sync_state WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def _keep_state(self, name: str, value: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO sync_state (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def _call(
        self, http: httpx.Client, method: str, path: str, *, ok: tuple[int, ...], params: Any = None
    ) -> httpx.Response:
        """One signed-in request; a refused access token is refreshed once. Any answer not in
        `ok` stops the run."""
        for attempt in range(2):
            response = http.request(
                method, path, params=params, headers={"Authorization": f"Bearer {self._access_token}"}
            )
            if response.status_code == 401 and attempt == 0:
                self._refresh_or_login(http)
                continue
            break
        if response.status_code not in ok:
            raise _Stop(f"{method} {path} answered {response.status_code}: {response.text[:200]}")
        return response

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
