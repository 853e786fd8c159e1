"""A user's phones stay in step (issue 12, items 3 and 4): deletes stay deleted, a second phone
catches up through the change feed, and the app's own totals are not counted twice."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from keel.apps.fitness.models import SessionTombstone, WorkoutSession
from keel.core.db import Database, utcnow
from tests.apps.fitness.builders import Athlete
from tests.apps.fitness.builders import athlete as new_athlete
from tests.apps.fitness.test_sessions import DAY, stats, upload, workout

SESSIONS = "/api/v1/sessions"


async def feed(fitness: httpx.AsyncClient, athlete: Athlete, **params: object) -> httpx.Response:
    return await fitness.get(SESSIONS, params=params, headers=athlete.headers)


async def age_everything(database: Database, by: timedelta) -> None:
    """Move every stored and deleted session back in time, as if written `by` ago."""
    async with database.sessionmaker() as session, session.begin():
        for model, column in ((WorkoutSession, "created_at"), (SessionTombstone, "deleted_at")):
            for row in (await session.scalars(select(model))).all():
                setattr(row, column, getattr(row, column) - by)


async def test_a_deleted_session_is_not_brought_back_by_its_upload(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    session = workout()
    [created] = (await upload(fitness, athlete, session)).json()["results"]
    deleted = await fitness.delete(f"{SESSIONS}/{session['client_session_id']}", headers=athlete.headers)
    assert deleted.status_code == 204

    # The phone that recorded it had not heard of the delete, and sends it again.
    again = await upload(fitness, athlete, session)
    assert again.status_code == 200, again.text
    [result] = again.json()["results"]
    assert (result["status"], result["id"]) == ("duplicate", created["id"])
    assert result["warnings"][0].startswith("deleted at ")
    assert again.json()["stats"]["total_xp"] == 0
    assert (await fitness.get(SESSIONS, headers=athlete.headers)).json()["total"] == 0
    assert (await fitness.get(f"{SESSIONS}/{created['id']}", headers=athlete.headers)).status_code == 404
    single = await fitness.post(SESSIONS, json=session, headers=athlete.headers)
    assert single.status_code == 410, single.text
    assert "not stored again" in single.json()["detail"]
    assert (await stats(fitness, athlete))["total_xp"] == 0


async def test_a_second_phone_learns_what_was_stored_and_deleted(
    fitness: httpx.AsyncClient, athlete: Athlete, fitness_database: Database
) -> None:
    before = utcnow() - timedelta(seconds=1)
    kept, dropped, other = workout(), workout(DAY + timedelta(days=1)), workout(DAY + timedelta(days=2))
    ids = [r["id"] for r in (await upload(fitness, athlete, kept, dropped, other)).json()["results"]]
    assert (await fitness.delete(f"{SESSIONS}/{ids[1]}", headers=athlete.headers)).status_code == 204
    stranger = await new_athlete(fitness)
    await upload(fitness, stranger, workout())

    response = await feed(fitness, athlete, updated_since=before.isoformat())
    assert response.status_code == 200, response.text
    body = response.json()
    by_id = {item["id"]: item for item in body["items"]}
    assert set(by_id) == set(ids)  # nothing of the stranger's
    assert [item["deleted"] for item in body["items"]] == [False, False, True]  # the delete came last
    assert by_id[ids[1]]["deleted_at"] == by_id[ids[1]]["updated_at"]
    assert by_id[ids[1]]["client_session_id"] == dropped["client_session_id"]
    assert "total_xp" not in by_id[ids[1]] and "time_series_data" not in by_id[ids[0]]
    assert (by_id[ids[0]]["deleted_at"], by_id[ids[0]]["xp_earned"]) == (None, 60)
    assert body["has_more"] is False

    # Written in the last minute, they may still have company committing late: the cursor stays
    # before them, so they come again rather than anything being missed.
    repeat = (await feed(fitness, athlete, cursor=body["cursor"])).json()
    assert [item["id"] for item in repeat["items"]] == [item["id"] for item in body["items"]]

    # Once they are older than that, the cursor moves past them, a page at a time.
    await age_everything(fitness_database, timedelta(minutes=10))
    since = (utcnow() - timedelta(minutes=20)).isoformat()
    first = (await feed(fitness, athlete, updated_since=since, limit=2)).json()
    # One batch, one time: its sessions come in the database's order of their ids.
    assert ({item["id"] for item in first["items"]}, first["has_more"]) == (set(ids[::2]), True)
    second = (await feed(fitness, athlete, cursor=first["cursor"], limit=2)).json()
    assert ([item["id"] for item in second["items"]], second["has_more"]) == ([ids[1]], False)
    last = (await feed(fitness, athlete, cursor=second["cursor"])).json()
    assert (last["items"], last["has_more"]) == ([], False)
    # What happens next is there for the same cursor.
    newer = (await upload(fitness, athlete, workout(DAY + timedelta(days=3)))).json()["results"][0]
    assert [item["id"] for item in (await feed(fitness, athlete, cursor=last["cursor"])).json()["items"]] == [
        newer["id"]
    ]


async def test_a_change_feed_asked_for_wrongly_is_422_and_a_forgotten_position_is_410(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    now = datetime.now(UTC)
    wrong = [
        {"cursor": "not-a-cursor"},
        {"updated_since": now.isoformat(), "cursor": "x"},
        {"updated_since": now.replace(tzinfo=None).isoformat()},  # a time with no offset
        {"updated_since": now.isoformat(), "device_type": "rower"},
        {"updated_since": now.isoformat(), "limit": 0},
    ]
    for params in wrong:
        response = await feed(fitness, athlete, **params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"], params
    # Deletions are remembered 180 days (KEEL_RETENTION_TOMBSTONES_DAYS): a phone away longer
    # might have missed one, and reads its whole list again.
    gone = await feed(fitness, athlete, updated_since=(now - timedelta(days=181)).isoformat())
    assert gone.status_code == 410
    assert "read the full list again" in gone.json()["detail"]
    assert (await fitness.get(SESSIONS, params={"updated_since": now.isoformat()})).status_code == 401


async def test_the_apps_totals_are_not_counted_again_and_later_sessions_build_on_them(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    counted = workout()
    await upload(fitness, athlete, counted)
    # A workout begun just after the overwrite (a phone's clock a little ahead is fine).
    start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
    # The phone's totals, which already hold every session it has recorded, some not yet sent.
    overwritten = await fitness.patch(
        "/api/v1/users/me/stats",
        json={
            "total_xp": 1000,
            "total_distance_km": 50.0,
            "current_level": 7,
            "workout_streak_days": 10,
            "last_workout_date": (start - timedelta(days=1)).isoformat(),
        },
        headers=athlete.headers,
    )
    assert overwritten.status_code == 200, overwritten.text

    # Recorded before the overwrite, sent after it: stored, not added again.
    late = workout(DAY + timedelta(days=1))
    response = await upload(fitness, athlete, late)
    assert response.status_code == 201
    app_totals = response.json()["stats"]
    assert (app_totals["total_xp"], app_totals["total_distance_km"], app_totals["current_level"]) == (
        1000,
        50.0,
        7,
    )
    assert app_totals["workout_streak_days"] == 10

    # Recorded after it: added, and the streak goes on from the app's.
    after = workout(start, minutes=20)
    totals = (await upload(fitness, athlete, after)).json()["stats"]
    assert (totals["total_xp"], totals["total_distance_km"], totals["workout_streak_days"]) == (
        1060,
        56.0,
        11,
    )
    assert totals["current_level"] == 7  # 1,060 XP is level 5 on the curve; the app said 7
    assert totals["last_workout_date"] == start.isoformat().replace("+00:00", "Z")

    # A deleted session leaves the totals whoever counted it; the level the app set stays.
    for gone in (late, after):
        removed = await fitness.delete(f"{SESSIONS}/{gone['client_session_id']}", headers=athlete.headers)
        assert removed.status_code == 204
    final = await stats(fitness, athlete)
    assert (final["total_xp"], final["total_distance_km"], final["current_level"]) == (940, 44.0, 7)
    assert final["workout_streak_days"] == 10
    assert final["last_workout_date"] == overwritten.json()["stats"]["last_workout_date"]
