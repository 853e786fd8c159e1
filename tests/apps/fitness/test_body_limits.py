"""The batch upload takes more than the default body limit, gzipped too, within its own limit."""

import gzip
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from tests.apps.fitness.builders import Athlete

BATCH = "/api/v1/sessions/batch_upload"
START = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
MiB = 1024 * 1024


def long_workout(day: int) -> dict:
    """An hour on the rower with a point a second: about 250 KB of JSON."""
    start = START + timedelta(days=day)
    return {
        "client_session_id": str(uuid.uuid4()),
        "device_type": "rower",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=1)).isoformat(),
        "duration_seconds": 3600,
        "total_calories": 600.0,
        "total_distance_meters": 12000.0,
        "metrics_summary": {"avg_watts": 152.0, "avg_spm": 24.0},
        "time_series_data": [
            {"t": float(s), "watts": 150.0 + s % 7, "spm": 24.0, "heart_rate": 130} for s in range(3600)
        ],
    }


def batch(count: int) -> bytes:
    return orjson.dumps({"sessions": [long_workout(day) for day in range(count)]})


async def test_a_batch_past_the_default_limit_is_stored(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    body = batch(8)
    assert len(body) > 1.5 * MiB
    headers = {**athlete.headers, "Content-Type": "application/json"}
    response = await fitness.post(BATCH, content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 8


async def test_a_gzipped_batch_is_stored_as_the_same_batch(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    body = batch(8)
    headers = {**athlete.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    key = {"X-Idempotency-Key": "gzipped-batch"}
    response = await fitness.post(BATCH, content=gzip.compress(body), headers={**headers, **key})
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 8
    # The decoded body is the request: sent again uncompressed under the same key, it is a replay.
    plain = {**athlete.headers, "Content-Type": "application/json", **key}
    again = await fitness.post(BATCH, content=body, headers=plain)
    assert again.status_code == 201 and again.json() == response.json()
    stored = (await fitness.get("/api/v1/sessions", headers=athlete.headers)).json()
    assert stored["total"] == 8


async def test_a_gzip_bomb_is_refused_past_the_batch_limit(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    # 40 MiB of JSON whitespace compresses to about 40 KB; the batch takes 32 MiB decoded.
    bomb = gzip.compress(b'{"sessions": [' + b" " * (40 * MiB) + b"]}", compresslevel=1)
    headers = {**athlete.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = await fitness.post(BATCH, content=bomb, headers=headers)
    assert response.status_code == 413
    assert (
        response.json()["detail"]
        == "The request body is too large: at most 32 MB (33,554,432 bytes) is accepted"
    )
    # Other routes keep the default limit.
    login = await fitness.post(
        "/api/v1/auth/login", content=b" " * (MiB + 1), headers={"Content-Type": "application/json"}
    )
    assert login.status_code == 413
