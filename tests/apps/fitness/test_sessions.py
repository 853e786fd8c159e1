import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert

from keel.apps.fitness.models import IdempotencyKey
from keel.core.db import Database, utcnow
from keel.core.idempotency import request_hash
from tests.apps.fitness import builders
from tests.apps.fitness.builders import Athlete

BATCH = "/api/v1/sessions/batch_upload"
DAY = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def workout(start: datetime = DAY, minutes: int = 30, device: str = "rower", **overrides) -> dict:
    end = start + timedelta(minutes=minutes)
    points = [
        {"t": float(s), "watts": 150.0 + s % 7, "spm": 24.0, "heart_rate": 130}
        for s in range(0, minutes * 60, 60)
    ]
    return {
        "client_session_id": str(uuid.uuid4()),
        "source_type": "free",
        "device_type": device,
        "start_time": start.isoformat(),
        "end_time": end.isoformat(),
        "duration_seconds": minutes * 60,
        "total_calories": 250.5,
        "total_distance_meters": 6000.0,
        "xp_earned": 60,
        "metrics_summary": {"avg_watts": 152.0, "avg_spm": 24.0} if device == "rower" else {},
        "time_series_data": points if device == "rower" else [],
        **overrides,
    }


async def upload(
    fitness: httpx.AsyncClient, athlete: Athlete, *sessions: dict, key: str | None = None
) -> httpx.Response:
    headers = {**athlete.headers, **({"X-Idempotency-Key": key} if key else {})}
    return await fitness.post(BATCH, json={"sessions": list(sessions)}, headers=headers)


async def stats(fitness: httpx.AsyncClient, athlete: Athlete) -> dict:
    return (await fitness.get("/api/v1/users/me", headers=athlete.headers)).json()["stats"]


async def test_a_batch_is_stored_once_and_counted_once(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    first, second = workout(), workout(DAY + timedelta(days=1))
    response = await upload(fitness, athlete, first, second)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 0, 0)
    assert [r["client_session_id"] for r in body["results"]] == [
        first["client_session_id"],
        second["client_session_id"],
    ]
    assert all(r["status"] == "created" and r["id"] for r in body["results"])
    assert body["stats"]["total_distance_km"] == 12.0
    assert body["stats"]["total_duration_seconds"] == 3600
    assert body["stats"]["total_xp"] == 120
    assert body["stats"]["current_level"] == 2  # 100 XP reaches level 2
    assert body["stats"]["workout_streak_days"] == 2
    assert body["stats"]["last_workout_date"] == "2026-11-21T07:00:00Z"

    again = await upload(fitness, athlete, first, second)
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["duplicates"]) == (0, 2)
    assert [r["id"] for r in again.json()["results"]] == [r["id"] for r in body["results"]]
    assert await stats(fitness, athlete) == body["stats"]


async def test_one_invalid_item_never_blocks_the_others(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    good = workout()
    future = datetime.now(UTC) + timedelta(hours=2)
    bad = {
        "unknown device": workout(device="kayak"),
        "out of range": workout(metrics_summary={"avg_watts": 5000}),
        "unknown metric": workout(metrics_summary={"cadence": 80}),
        "end before start": workout(end_time=(DAY - timedelta(minutes=1)).isoformat(), duration_seconds=0),
        "duration": workout(duration_seconds=60),
        "future": workout(start=future),
        "too many points": workout(time_series_data=[{"t": 1.0}] * 20_001),
        "point out of range": workout(time_series_data=[{"t": 1.0, "heart_rate": 400}]),
        "missing field": {k: v for k, v in workout().items() if k != "total_calories"},
        "unknown training": workout(training_id=424242, source_type="backend"),
    }
    response = await upload(fitness, athlete, good, *bad.values())
    assert response.status_code == 201
    body = response.json()
    assert (body["created"], body["rejected"]) == (1, len(bad))
    assert body["results"][0]["status"] == "created"
    reasons = dict(zip(bad, (r["reason"] for r in body["results"][1:]), strict=True))
    assert all(r["status"] == "rejected" for r in body["results"][1:])
    assert "unknown device type 'kayak'" in reasons["unknown device"]
    assert "avg_watts" in reasons["out of range"]
    assert "cadence" in reasons["unknown metric"]
    assert "before" in reasons["end before start"]
    assert "duration_seconds" in reasons["duration"]
    assert "future" in reasons["future"]
    assert "20000" in reasons["too many points"]
    assert "heart_rate" in reasons["point out of range"]
    assert "total_calories" in reasons["missing field"]
    assert "424242" in reasons["unknown training"]
    assert body["stats"]["total_xp"] == 60


async def test_a_batch_with_nothing_new_is_200(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    response = await upload(fitness, athlete, workout(device="kayak"))
    assert response.status_code == 200
    assert response.json()["rejected"] == 1
    twice = workout()
    within = await upload(fitness, athlete, twice, twice)
    assert [r["status"] for r in within.json()["results"]] == ["created", "duplicate"]
    assert within.json()["results"][0]["id"] == within.json()["results"][1]["id"]


async def test_the_batch_itself_must_be_well_formed(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    for body in ({"sessions": []}, {"sessions": [workout()] * 501}, {}, {"sessions": "x"}):
        response = await fitness.post(BATCH, json=body, headers=athlete.headers)
        assert response.status_code == 422
    assert (await fitness.post(BATCH, json={"sessions": [workout()]})).status_code == 401


async def test_an_idempotency_key_replays_the_first_answer(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    batch = [workout(), workout(DAY + timedelta(hours=3))]
    first = await upload(fitness, athlete, *batch, key="sync-1")
    assert first.status_code == 201
    replay = await upload(fitness, athlete, *batch, key="sync-1")
    assert replay.status_code == 201  # the first answer, as it was
    assert replay.json() == first.json()
    other_body = await upload(fitness, athlete, workout(), key="sync-1")
    assert other_body.status_code == 422
    assert "different" in other_body.json()["detail"][0]["msg"]
    # Another user's identical key is their own.
    someone = await builders.athlete(fitness)
    assert (await upload(fitness, someone, *batch, key="sync-1")).status_code == 201


async def test_a_repeat_while_the_first_is_running_is_409(
    fitness: httpx.AsyncClient, athlete: Athlete, fitness_database: Database
) -> None:
    batch = [workout()]
    body = json.dumps({"sessions": batch}).encode()
    async with fitness_database.engine.begin() as connection:
        await connection.execute(
            insert(IdempotencyKey).values(
                scope=f"user:{athlete.id}:sessions.batch_upload",
                key="in-flight",
                request_hash=request_hash(body),
                created_at=utcnow(),
                expires_at=utcnow() + timedelta(hours=1),
            )
        )
    response = await fitness.post(
        BATCH,
        content=body,
        headers={**athlete.headers, "X-Idempotency-Key": "in-flight", "Content-Type": "application/json"},
    )
    assert response.status_code == 409
    assert (await stats(fitness, athlete))["total_xp"] == 0


async def test_concurrent_duplicate_uploads_store_and_count_once(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    batch = [workout(DAY + timedelta(hours=i)) for i in range(5)]
    responses = await asyncio.gather(*(upload(fitness, athlete, *batch) for _ in range(6)))
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert sum(r.json()["created"] for r in responses) == 5
    listed = (await fitness.get("/api/v1/sessions", headers=athlete.headers)).json()
    assert listed["total"] == 5
    final = await stats(fitness, athlete)
    assert (final["total_xp"], final["total_duration_seconds"]) == (300, 5 * 1800)


async def test_history_is_newest_first_filtered_and_without_series(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    old, bike, new = (
        workout(DAY - timedelta(days=5)),
        workout(DAY, device="bike"),
        workout(DAY + timedelta(days=1)),
    )
    await upload(fitness, athlete, old, bike, new)
    listing = (await fitness.get("/api/v1/sessions", headers=athlete.headers)).json()
    assert [s["client_session_id"] for s in listing["items"]] == [
        new["client_session_id"],
        bike["client_session_id"],
        old["client_session_id"],
    ]
    assert "time_series_data" not in listing["items"][0]
    bikes = (
        await fitness.get("/api/v1/sessions", params={"device_type": "bike"}, headers=athlete.headers)
    ).json()
    assert [s["client_session_id"] for s in bikes["items"]] == [bike["client_session_id"]]
    window = {"from": (DAY - timedelta(days=1)).isoformat(), "to": (DAY + timedelta(hours=1)).isoformat()}
    ranged = (await fitness.get("/api/v1/sessions", params=window, headers=athlete.headers)).json()
    assert [s["client_session_id"] for s in ranged["items"]] == [bike["client_session_id"]]
    paged = (
        await fitness.get("/api/v1/sessions", params={"page": 2, "limit": 2}, headers=athlete.headers)
    ).json()
    assert (paged["total"], len(paged["items"])) == (3, 1)


async def test_detail_by_either_id_and_another_users_sessions_are_invisible(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    mine = workout()
    stored_id = (await upload(fitness, athlete, mine)).json()["results"][0]["id"]
    detail = (await fitness.get(f"/api/v1/sessions/{stored_id}", headers=athlete.headers)).json()
    assert len(detail["time_series_data"]) == 30
    assert detail["metrics_summary"] == mine["metrics_summary"]
    by_client = await fitness.get(f"/api/v1/sessions/{mine['client_session_id']}", headers=athlete.headers)
    assert by_client.json()["id"] == stored_id
    other = await builders.athlete(fitness)
    for probe in (stored_id, mine["client_session_id"]):
        assert (await fitness.get(f"/api/v1/sessions/{probe}", headers=other.headers)).status_code == 404
        assert (await fitness.delete(f"/api/v1/sessions/{probe}", headers=other.headers)).status_code == 404
    # The other user may store a session with the same client id: ids are per user.
    assert (await upload(fitness, other, mine)).json()["created"] == 1


async def test_delete_reverses_the_totals(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    first, second = workout(), workout(DAY + timedelta(days=1))
    ids = [r["id"] for r in (await upload(fitness, athlete, first, second)).json()["results"]]
    assert (await fitness.delete(f"/api/v1/sessions/{ids[1]}", headers=athlete.headers)).status_code == 204
    after = await stats(fitness, athlete)
    assert (after["total_xp"], after["total_distance_km"], after["workout_streak_days"]) == (60, 6.0, 1)
    assert after["last_workout_date"] == "2026-11-20T07:00:00Z"
    assert (await fitness.delete(f"/api/v1/sessions/{ids[1]}", headers=athlete.headers)).status_code == 404
    assert (await fitness.delete(f"/api/v1/sessions/{ids[0]}", headers=athlete.headers)).status_code == 204
    empty = await stats(fitness, athlete)
    assert (
        empty["total_xp"],
        empty["current_level"],
        empty["workout_streak_days"],
        empty["last_workout_date"],
    ) == (0, 1, 0, None)


async def test_streaks_count_days_in_the_users_time_zone(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    await fitness.patch("/api/v1/users/me", json={"timezone": "Asia/Taipei"}, headers=athlete.headers)
    # 23:30 UTC on the 19th is 07:30 on the 20th in Taipei, the same local day as the next one.
    late = workout(datetime(2026, 11, 19, 23, 30, tzinfo=UTC))
    morning = workout(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    next_day = workout(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))
    body = (await upload(fitness, athlete, late, morning, next_day)).json()
    assert body["stats"]["workout_streak_days"] == 2


async def test_a_long_streak_is_counted_whole_and_a_gap_ends_it(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    # Longer than the first week the streak is looked for in, so the look-back has to widen.
    days = [workout(DAY - timedelta(days=n)) for n in range(40)]
    assert (await upload(fitness, athlete, *days)).json()["stats"]["workout_streak_days"] == 40
    after_a_gap = workout(DAY + timedelta(days=2))
    assert (await upload(fitness, athlete, after_a_gap)).json()["stats"]["workout_streak_days"] == 1
    # The missing day arrives later (uploaded offline): the two runs join.
    missing = workout(DAY + timedelta(days=1))
    assert (await upload(fitness, athlete, missing)).json()["stats"]["workout_streak_days"] == 42


async def test_a_day_leaves_the_streak_only_with_its_last_session(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    yesterday, morning, evening = (
        workout(DAY - timedelta(days=1)),
        workout(DAY),
        workout(DAY + timedelta(hours=10)),
    )
    body = (await upload(fitness, athlete, yesterday, morning, evening)).json()
    assert body["stats"]["workout_streak_days"] == 2
    ids = [result["id"] for result in body["results"]]
    await fitness.delete(f"/api/v1/sessions/{ids[1]}", headers=athlete.headers)
    assert (await stats(fitness, athlete))["workout_streak_days"] == 2  # the evening still counts
    await fitness.delete(f"/api/v1/sessions/{ids[0]}", headers=athlete.headers)
    assert (await stats(fitness, athlete))["workout_streak_days"] == 1


async def test_a_new_time_zone_moves_sessions_to_their_local_days_at_once(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    # 22:00 and 08:00 UTC on consecutive days: two days in UTC, one day (the 20th) in Taipei.
    await upload(
        fitness,
        athlete,
        workout(datetime(2026, 11, 19, 22, 0, tzinfo=UTC)),
        workout(DAY + timedelta(hours=1)),
    )
    assert (await stats(fitness, athlete))["workout_streak_days"] == 2
    await fitness.patch("/api/v1/users/me", json={"timezone": "Asia/Taipei"}, headers=athlete.headers)
    assert (await stats(fitness, athlete))["workout_streak_days"] == 1
    await fitness.patch("/api/v1/users/me", json={"timezone": "UTC"}, headers=athlete.headers)
    assert (await stats(fitness, athlete))["workout_streak_days"] == 2


async def test_one_session_upload(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    single = workout()
    created = await fitness.post("/api/v1/sessions", json=single, headers=athlete.headers)
    assert created.status_code == 201, created.text
    again = await fitness.post("/api/v1/sessions", json=single, headers=athlete.headers)
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]
    rejected = await fitness.post("/api/v1/sessions", json=workout(device="kayak"), headers=athlete.headers)
    assert rejected.status_code == 422
    assert "kayak" in rejected.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("xp", "level"), [(0, 1), (99, 1), (100, 2), (299, 2), (300, 3), (600, 4), (4950, 10)]
)
def test_the_level_curve(xp: int, level: int) -> None:
    from keel.apps.fitness.services.stats import level_for

    assert level_for(xp) == level


async def test_a_claim_left_by_a_crashed_request_is_taken_over_after_its_lease(
    fitness: httpx.AsyncClient, athlete: Athlete, fitness_database: Database
) -> None:
    import json

    body = json.dumps({"sessions": [workout()]}).encode()
    async with fitness_database.engine.begin() as connection:
        await connection.execute(
            insert(IdempotencyKey).values(
                scope=f"user:{athlete.id}:sessions.batch_upload",
                key="crashed",
                request_hash=request_hash(body),
                created_at=utcnow() - timedelta(seconds=31),
                expires_at=utcnow() + timedelta(hours=1),
            )
        )
    headers = {**athlete.headers, "X-Idempotency-Key": "crashed", "Content-Type": "application/json"}
    response = await fitness.post(BATCH, content=body, headers=headers)
    assert response.status_code == 201, response.text
    replay = await fitness.post(BATCH, content=body, headers=headers)
    assert (replay.status_code, replay.json()) == (201, response.json())


async def test_a_batch_mixing_stored_and_new_sessions_answers_every_id(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    stored = workout()
    first_id = (await upload(fitness, athlete, stored)).json()["results"][0]["id"]
    # Sent again, a stored session is a duplicate even if the phone's copy changed since.
    changed = {**stored, "metrics_summary": {"avg_watts": 99999}}
    body = (await upload(fitness, athlete, changed, workout(DAY + timedelta(days=2)))).json()
    assert [r["status"] for r in body["results"]] == ["duplicate", "created"]
    assert body["results"][0]["id"] == first_id
    assert body["results"][1]["id"] is not None
