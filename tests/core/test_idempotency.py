"""Idempotency keys compare requests by meaning (core/idempotency.py), through an app that uses
them: fitness's batch upload. The same JSON written otherwise (key order, spacing) replays the
first answer; another body is 422; a claim stored before keys were compared by meaning (the hash
of the raw bytes) still matches its retry."""

import hashlib
from datetime import timedelta

import httpx
import orjson
from sqlalchemy import insert

from keel.apps.fitness.models import IdempotencyKey
from keel.core.db import Database, utcnow
from keel.core.idempotency import request_hash
from tests.apps.fitness import builders
from tests.apps.fitness.builders import Athlete
from tests.apps.fitness.test_sessions import BATCH, stats, workout


async def post(fitness: httpx.AsyncClient, athlete: Athlete, body: bytes, key: str) -> httpx.Response:
    headers = {**athlete.headers, "X-Idempotency-Key": key, "Content-Type": "application/json"}
    return await fitness.post(BATCH, content=body, headers=headers)


async def test_the_same_json_written_otherwise_replays_the_first_answer(fitness: httpx.AsyncClient) -> None:
    athlete = await builders.athlete(fitness)
    batch = {"sessions": [workout(), workout()]}
    compact = orjson.dumps(batch)
    # Every object's keys reversed and the text indented: the same JSON, other bytes.
    reordered = orjson.dumps(
        {"sessions": [dict(reversed(item.items())) for item in batch["sessions"]]}, option=orjson.OPT_INDENT_2
    )
    assert reordered != compact and orjson.loads(reordered) == orjson.loads(compact)

    first = await post(fitness, athlete, compact, "sync-1")
    assert first.status_code == 201, first.text
    replay = await post(fitness, athlete, reordered, "sync-1")
    assert replay.status_code == 201  # the first answer, not a 200 of duplicates
    assert replay.json() == first.json()
    assert (await stats(fitness, athlete))["total_xp"] == 120  # counted once

    changed = {"sessions": [workout(), batch["sessions"][1]]}
    other = await post(fitness, athlete, orjson.dumps(changed), "sync-1")
    assert other.status_code == 422
    assert "different" in other.json()["detail"][0]["msg"]


def test_a_body_that_is_not_json_is_hashed_as_its_bytes() -> None:
    # Fitness refuses a body that is not JSON before claiming a key, so this is seen here only.
    assert request_hash(b"{not json") == hashlib.sha256(b"{not json").hexdigest()
    assert request_hash(b"{not json") != request_hash(b"{not  json")
    assert request_hash(b'{"a": 1, "b": [1, 2]}') == request_hash(b'{"b":[1,2],"a":1}')
    assert request_hash(b'{"a": 1, "b": [1, 2]}') != request_hash(b'{"a": 1, "b": [2, 1]}')


async def test_a_claim_hashed_before_the_change_still_matches_its_retry(
    fitness: httpx.AsyncClient, fitness_database: Database
) -> None:
    # A process killed mid-request by the deploy left a claim holding the raw bytes' hash, and
    # its lease has run out: the retry of those bytes takes it over and stores the workout.
    athlete, someone = await builders.athlete(fitness), await builders.athlete(fitness)
    body = orjson.dumps({"sessions": [workout()]})
    long_ago = utcnow() - timedelta(hours=1)
    async with fitness_database.engine.begin() as connection:
        for user in (athlete, someone):
            await connection.execute(
                insert(IdempotencyKey).values(
                    scope=f"user:{user.id}:sessions.batch_upload",
                    key="before-deploy",
                    request_hash=hashlib.sha256(body).hexdigest(),
                    created_at=long_ago,
                    expires_at=long_ago + timedelta(hours=24),
                )
            )
    retry = await post(fitness, athlete, body, "before-deploy")
    assert retry.status_code == 201, retry.text
    assert retry.json()["created"] == 1
    # The old hash matches only its own bytes' meaning: another body is still refused.
    other = await post(fitness, someone, orjson.dumps({"sessions": [workout()]}), "before-deploy")
    assert other.status_code == 422
