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
        "no client id": {k: v for k, v in workout().items() if k != "client_session_id"},
        "no start": {k: v for k, v in workout().items() if k != "start_time"},
        "unparseable end": workout(end_time="yesterday"),
        "end before start": workout(end_time=(DAY - timedelta(minutes=1)).isoformat(), duration_seconds=0),
        "negative total": workout(total_calories=-1),
        "duration": workout(duration_seconds=3600),  # longer than the 30 minutes it spans
        "future": workout(start=future),
        "too many points": workout(time_series_data=[{"t": 1.0}] * 20_001),
        "points not objects": workout(time_series_data=[1, 2]),
        "missing field": {k: v for k, v in workout().items() if k != "total_calories"},
        "unknown training": workout(training_id=424242, source_type="backend"),
        "not an object": 5,
    }
    response = await upload(fitness, athlete, good, *bad.values())
    assert response.status_code == 201
    body = response.json()
    assert (body["created"], body["rejected"]) == (1, len(bad))
    assert body["results"][0]["status"] == "created"
    reasons = dict(zip(bad, (r["reason"] for r in body["results"][1:]), strict=True))
    assert all(r["status"] == "rejected" for r in body["results"][1:])
    assert "client_session_id" in reasons["no client id"]
    assert "start_time" in reasons["no start"]
    assert "end_time" in reasons["unparseable end"]
    assert "before" in reasons["end before start"]
    assert "total_calories" in reasons["negative total"]
    assert "duration_seconds is 3600, longer" in reasons["duration"]
    assert "future" in reasons["future"]
    # The one rejection time can cure: the phone keeps it for later.
    retryable = dict(zip(bad, (r["retryable"] for r in body["results"][1:]), strict=True))
    assert [name for name, flag in retryable.items() if flag] == ["future"]
    assert "20000" in reasons["too many points"]
    assert "time_series_data[0]: expected `object`" in reasons["points not objects"]
    assert "total_calories" in reasons["missing field"]
    assert "424242" in reasons["unknown training"]
    assert reasons["not an object"] == "a session must be a JSON object"
    assert body["results"][-1]["client_session_id"] is None
    assert body["stats"]["total_xp"] == 60


async def test_a_batch_status_says_what_happened_to_it(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    unusable = workout(end_time=(DAY - timedelta(minutes=1)).isoformat())
    stored = workout()
    assert (await upload(fitness, athlete, stored, unusable)).status_code == 201  # something created
    # Every item rejected: never a 2xx, and the results still say why, item by item.
    refused = await upload(fitness, athlete, unusable, unusable)
    assert refused.status_code == 422
    body = refused.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (0, 0, 2)
    assert [r["status"] for r in body["results"]] == ["rejected", "rejected"]
    assert "before start_time" in body["results"][0]["reason"]
    assert "every session was rejected" in body["detail"][0]["msg"]
    assert body["stats"]["total_xp"] == 60
    # Everything already stored: 200; stored and rejected, nothing new: 200 too.
    assert (await upload(fitness, athlete, stored)).status_code == 200
    assert (await upload(fitness, athlete, stored, unusable)).status_code == 200
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
    # Again (a phone replaying its offline delete): done already, and nothing is reversed twice.
    assert (await fitness.delete(f"/api/v1/sessions/{ids[1]}", headers=athlete.headers)).status_code == 204
    assert (await stats(fitness, athlete)) == after
    assert (
        await fitness.delete(f"/api/v1/sessions/{uuid.uuid4()}", headers=athlete.headers)
    ).status_code == 404
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
    assert (created.json()["warnings"], again.json()["warnings"]) == ([], [])
    kayak = await fitness.post("/api/v1/sessions", json=workout(device="kayak"), headers=athlete.headers)
    assert kayak.status_code == 201, kayak.text
    assert "'kayak' has no schema" in kayak.json()["warnings"][0]
    alias = workout()
    alias["client_session_uuid"] = alias.pop("client_session_id")
    by_alias = await fitness.post("/api/v1/sessions", json=alias, headers=athlete.headers)
    assert by_alias.status_code == 201, by_alias.text
    assert by_alias.json()["client_session_id"] == alias["client_session_uuid"]
    rejected = await fitness.post(
        "/api/v1/sessions", json=workout(duration_seconds=7200), headers=athlete.headers
    )
    assert rejected.status_code == 422
    assert "longer than end_time - start_time" in rejected.json()["detail"][0]["msg"]


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


async def test_the_uploads_real_phones_send_are_stored_with_warnings(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    """Issue 12's uploads, each rejected before: now stored as sent, counted, and warned about
    only where the server did not understand something."""
    points = [{"t": 0.0, "heart_rate": 0, "stroke_rate": 24}, {"t": 1.0, "heart_rate": 120.0}]
    uploads = {
        "concept2 rower": workout(
            metrics_summary={"avg_watts": 150.0, "stroke_rate": 24, "drag_factor": 125}
        ),
        "strap dropout": workout(DAY + timedelta(hours=1), time_series_data=points),
        "dart doubles": workout(
            DAY + timedelta(hours=2),
            metrics_summary={"avg_heart_rate": 131.5, "total_strokes": 300.0},
            time_series_data=[{"t": 0.0, "heart_rate": 120.0}],
        ),
        "intervals": workout(DAY + timedelta(hours=3), duration_seconds=20 * 60),  # 30 minutes spanned
        "elliptical": workout(
            DAY + timedelta(hours=4),
            device="elliptical",
            metrics_summary={"avg_strides": 60, "avg_heart_rate": 140},
            time_series_data=[{"t": 0.0, "strides": 58, "heart_rate": 139}],
        ),
    }
    response = await upload(fitness, athlete, *uploads.values())
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["created"], body["rejected"]) == (5, 0)
    warnings = dict(zip(uploads, (r["warnings"] for r in body["results"]), strict=True))
    assert warnings["concept2 rower"] == [
        "metrics_summary.stroke_rate: not in the schema, stored as sent",
        "metrics_summary.drag_factor: not in the schema, stored as sent",
    ]
    assert warnings["strap dropout"] == [
        "time_series_data[0].heart_rate: expected `float` >= 30.0; heart_rate is stored as sent but "
        "left out of any aggregate",
        "time_series_data[0].stroke_rate: not in the schema, stored as sent",
    ]
    assert warnings["dart doubles"] == warnings["intervals"] == []
    assert len(warnings["elliptical"]) == 1 and "'elliptical' has no schema" in warnings["elliptical"][0]
    # Every one is counted: the interval workout by its moving time.
    assert body["stats"]["total_xp"] == 5 * 60
    assert body["stats"]["total_duration_seconds"] == 4 * 30 * 60 + 20 * 60
    # Stored verbatim, unknown keys and the out-of-range value included.
    for name in ("concept2 rower", "strap dropout", "elliptical"):
        detail = await fitness.get(
            f"/api/v1/sessions/{uploads[name]['client_session_id']}", headers=athlete.headers
        )
        assert detail.status_code == 200
        assert detail.json()["metrics_summary"] == uploads[name]["metrics_summary"]
        assert detail.json()["time_series_data"] == uploads[name]["time_series_data"]
    listed = await fitness.get(
        "/api/v1/sessions", params={"device_type": "elliptical"}, headers=athlete.headers
    )
    assert listed.json()["total"] == 1


async def test_client_session_uuid_is_the_client_session_id(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    session = workout()
    alias = {"client_session_uuid": session["client_session_id"]} | {
        k: v for k, v in session.items() if k != "client_session_id"
    }
    first = await upload(fitness, athlete, alias)
    assert first.status_code == 201, first.text
    assert first.json()["results"][0]["client_session_id"] == session["client_session_id"]
    # The same session under its usual name is the one already stored.
    again = await upload(fitness, athlete, session)
    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "duplicate"
    assert again.json()["results"][0]["id"] == first.json()["results"][0]["id"]


async def test_warnings_are_bounded_and_no_metric_rejects(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    many = {f"vendor_field_{i}": i for i in range(12)}
    odd = workout(
        metrics_summary=many,
        time_series_data=[{"t": 0.0, "heart_rate": "high"}, {"watts": 100.0}],
    )
    response = await upload(fitness, athlete, odd)
    assert response.status_code == 201, response.text
    [result] = response.json()["results"]
    assert result["status"] == "created"
    # At most 8 per session, then one per field that says there is more (each costs a decode).
    assert len(result["warnings"]) == 10
    assert result["warnings"][-2:] == [
        f"{field}: more values the server does not understand, stored as sent"
        for field in ("metrics_summary", "time_series_data")
    ]
    text = await upload(
        fitness, athlete, workout(DAY + timedelta(days=1), time_series_data=odd["time_series_data"])
    )
    assert text.json()["results"][0]["warnings"] == [
        "time_series_data[0].heart_rate: expected `float | null`, got `str`; heart_rate is stored as sent "
        "but left out of any aggregate",
        "time_series_data[1].t: missing",
    ]
    detail = await fitness.get(f"/api/v1/sessions/{odd['client_session_id']}", headers=athlete.headers)
    assert detail.json()["metrics_summary"] == many
