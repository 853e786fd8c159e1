"""`Idempotency-Key` handling: a repeat with the same key and body gets the first answer; the
same key with another body is 422; a repeat while the first is still running is 409. "Same body"
means the same JSON: key order and whitespace do not count, so a client that re-serialises its
request for a retry still gets the first answer.

The key is claimed in autocommit, before the work starts, so a concurrent repeat sees it at
once. The answer is stored in the request's own transaction, so it exists exactly when the
work it describes was committed. A failed request releases its claim; a claim whose process
died is taken over once its lease has run out.

A TransactionalRoute's request calls `guard` (from the route, or a dependency), which claims
the key and has the route class record the answer before the commit or release the claim after
a rollback: fitness's batch upload and shop's checkout keyed by `Idempotency-Key`
(`IdempotencyKeyHeader`), badge's signed device requests keyed by their signature. Work that
commits outside the request's session (shop's checkout writes a batch of orders in one
transaction) stores each answer in that transaction itself (`Claim.answer`).
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request, Response
from sqlalchemy import Update, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.db import Answered, Autocommit, guard_answer, request_database, utcnow
from keel.core.encoding import FastJSONResponse
from keel.core.errors import Conflict, Unprocessable

KEPT = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: Any


def request_hash(body: bytes) -> str:
    """The hash of the body's meaning: a JSON body parsed and written again with sorted keys and
    no whitespace, any other body as it is. It costs a parse and a write: 27 ms for
    bench/fitness.py's 3.7 MB batch of 100 workouts, against 2 ms for hashing its bytes (timeit,
    2026-12-02), paid only by requests that carry a key."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # not JSON, or nested beyond orjson's depth
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


def _raw_hash(body: bytes) -> str:
    # Keys claimed before request_hash read the JSON hold the hash of the raw bytes. A retry of
    # a request cut off by that deploy must still match (its claim, left by the killed process,
    # is taken over rather than refused); such keys are gone 24 h (KEPT) after the deploy.
    return hashlib.sha256(body).hexdigest()


_KEY_DOC = (
    "A repeat with the same key and body (the same JSON: key order and spacing do not count) gets "
    "the first answer; another body is 422; a repeat while the first is still running is 409."
)
_KeyValue = Annotated[str | None, Header(min_length=1, max_length=255, description=_KEY_DOC)]


async def _idempotency_key(
    idempotency_key: Annotated[_KeyValue, Header(alias="Idempotency-Key")] = None,
    x_idempotency_key: Annotated[_KeyValue, Header(alias="X-Idempotency-Key")] = None,
) -> str | None:
    # The IETF draft's name, and the X- name clients written before it send.
    return idempotency_key or x_idempotency_key


IdempotencyKeyHeader = Annotated[str | None, Depends(_idempotency_key)]


class Idempotency:
    """Over an app's `IdempotencyKeyMixin` table. `lease`: how long a claim with no answer yet
    keeps repeats out (409) before it counts as abandoned by a process that died. Keep it short
    where running the work twice is harmless, so a crash never blocks a client for long. `kept`:
    how long an answer is replayed (then the retention sweep may prune it); a key that cannot
    come back after a while (a signature past its time window) need not be kept a day."""

    def __init__(self, model: Any, *, lease: timedelta = timedelta(minutes=5), kept: timedelta = KEPT):
        self.model = model
        self.lease = lease
        self.kept = kept
        # Built once: a statement made per call is compiled (its cache key computed) per call.
        self._insert = insert(model)

    async def claim(self, autocommit: Autocommit, scope: str, key: str, body: bytes) -> StoredAnswer | None:
        """Claim `key` for the request with this `body`, or return the answer to replay. Raises 409
        while another request holds it and 422 when it was used with another body."""
        return await self._claim(autocommit, scope, key, body, request_hash(body))

    async def _claim(
        self, autocommit: Autocommit, scope: str, key: str, body: bytes, body_hash: str
    ) -> StoredAnswer | None:
        model, now = self.model, utcnow()
        row = {
            "scope": scope,
            "key": key,
            "request_hash": body_hash,
            "created_at": now,
            "expires_at": now + self.kept,
        }
        try:
            await autocommit.execute(self._insert, row)
            return None
        except IntegrityError:
            pass
        found = (
            await autocommit.execute(
                select(model.request_hash, model.status_code, model.response_body, model.created_at).where(
                    model.scope == scope, model.key == key
                )
            )
        ).first()
        if found is None:  # released between our insert and our read: try once more
            return await self._claim(autocommit, scope, key, body, body_hash)
        if found.request_hash != body_hash and found.request_hash != _raw_hash(body):
            raise Unprocessable(
                "This idempotency key was used with a different request body",
                loc=("header", "X-Idempotency-Key"),
            )
        if found.status_code is not None:
            return StoredAnswer(found.status_code, found.response_body)
        if found.created_at > now - self.lease:
            raise Conflict("A request with this idempotency key is still being processed")
        # The first holder died mid-request: take the claim over, unless someone else just did.
        taken = await autocommit.execute(
            update(model)
            .where(
                model.scope == scope,
                model.key == key,
                model.status_code.is_(None),
                model.created_at == found.created_at,
            )
            .values(created_at=now, expires_at=now + self.kept)
        )
        if taken.rowcount != 1:
            raise Conflict("A request with this idempotency key is still being processed")
        return None

    async def record(self, session: AsyncSession, scope: str, key: str, status_code: int, body: Any) -> None:
        """Store the answer in the request's transaction: it commits with the work, or not at all."""
        await session.execute(self.answers(), {"s": scope, "k": key, "status": status_code, "body": body})

    def answers(self) -> Update:
        """The UPDATE that stores answers, for `Claim.answer`'s parameters (one or many rows)."""
        model = self.model
        return (
            update(model)
            .where(model.scope == bindparam("s"), model.key == bindparam("k"))
            .values(status_code=bindparam("status"), response_body=bindparam("body"))
        )

    async def release(self, autocommit: Autocommit, scope: str, key: str) -> None:
        """Give the claim back after a failure, so a retry runs the request again."""
        model = self.model
        await autocommit.execute(
            delete(model).where(model.scope == scope, model.key == key, model.status_code.is_(None))
        )

    async def guard(
        self,
        request: Request,
        scope: str,
        key: str,
        *,
        replay_headers: Callable[[Any], dict[str, str]] | None = None,
    ) -> "Claim":
        """From a TransactionalRoute's request: run this request at most once per `key`. A
        repeat is answered the first answer as it was (status and JSON body) without running the
        route, 409 while the first is still running, 422 with another body; the first's answer
        is stored in its own transaction, and its claim given back if it fails. Only the body is
        stored: `replay_headers` makes a repeat's headers from it (a 202's Location)."""
        autocommit = request_database(request).autocommit
        replay = await self.claim(autocommit, scope, key, await request.body())
        if replay is not None:
            headers = replay_headers(replay.body) if replay_headers else None
            raise Answered(FastJSONResponse(replay.body, status_code=replay.status_code, headers=headers))
        claim = Claim(self, autocommit, scope, key)
        guard_answer(request, claim)
        return claim


@dataclass(slots=True)
class Claim:
    """A claim `guard` made: the AnswerGuard TransactionalRoute tells how the request ended.
    Work committed in a transaction of its own runs `idempotency.answers()` with `answer(...)`
    in it, and sets `answered` once it committed, so the route does not store it again."""

    idempotency: Idempotency
    autocommit: Autocommit
    scope: str
    key: str
    answered: bool = False

    def answer(self, status_code: int, body: Any) -> dict[str, Any]:
        return {"s": self.scope, "k": self.key, "status": status_code, "body": body}

    async def record(self, session: AsyncSession, response: Response) -> None:
        if self.answered:
            return
        body = orjson.loads(response.body) if response.body else None
        await self.idempotency.record(session, self.scope, self.key, response.status_code, body)

    async def release(self) -> None:
        await self.idempotency.release(self.autocommit, self.scope, self.key)
