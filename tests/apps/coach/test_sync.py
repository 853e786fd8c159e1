"""The Flutter app's offline sync (issue 16): change feeds with tombstones, soft deletes every
other read skips, a replayed create that updates or conflicts by `version`, and the table
names of spec 001 section 4.1 as aliases of the dimensions."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from keel.apps.coach.models import DayLog, Reading
from keel.core.db import Database, utcnow
from tests.apps.coach import builders
from tests.apps.coach.builders import DAY, RECORDS, Member

RECORDS_PATH = "/api/v1/records"


async def feed(coach: httpx.AsyncClient, who: Member, path: str, **params: object) -> httpx.Response:
    return await coach.get(path, params=params, headers=who.headers)


async def settle_at(database: Database, *models: Any, at: Any) -> None:
    """Stamp every row of these tables as changed at one time `at` (the same for all: ties)."""
    async with database.sessionmaker() as session, session.begin():
        for model in models:
            await session.execute(update(model).values(updated_at=at))


async def read_all(coach: httpx.AsyncClient, who: Member, path: str, since: str, limit: int) -> list[Any]:
    """Every page of a feed, following its cursor while it says there is more."""
    page = (await feed(coach, who, path, updated_since=since, limit=limit)).json()
    pages = [page]
    while page["has_more"]:
        page = (await feed(coach, who, path, cursor=page["cursor"], limit=limit)).json()
        pages.append(page)
    return pages


async def test_a_second_device_learns_what_was_stored_edited_and_deleted(
    coach: httpx.AsyncClient, member: Member
) -> None:
    before = (utcnow() - timedelta(seconds=1)).isoformat()
    kept = await builders.record(coach, member, "workout")
    edited = await builders.record(coach, member, "workout", day="2026-11-21")
    dropped = await builders.record(coach, member, "workout", day="2026-11-22")
    changed = await coach.put(
        f"{RECORDS_PATH}/workout/{edited['id']}",
        json={**RECORDS["workout"], "minutes": 45, "version": 1},
        headers=member.headers,
    )
    assert changed.status_code == 200
    assert (
        await coach.delete(f"{RECORDS_PATH}/workout/{dropped['id']}", headers=member.headers)
    ).status_code == 204
    stranger = await builders.member(coach)
    await builders.record(coach, stranger, "workout")
    await builders.record(coach, member, "meal")  # another dimension's feed

    response = await feed(coach, member, f"{RECORDS_PATH}/workout", updated_since=before)
    assert response.status_code == 200, response.text
    body = response.json()
    by_id = {item["id"]: item for item in body["items"]}
    assert list(by_id) == [kept["id"], edited["id"], dropped["id"]]  # in the order they changed
    assert by_id[dropped["id"]] == {
        "id": dropped["id"],
        "deleted": True,
        "deleted_at": by_id[dropped["id"]]["updated_at"],
        "updated_at": by_id[dropped["id"]]["updated_at"],
    }
    assert by_id[kept["id"]] == {**kept, "deleted": False, "deleted_at": None}
    assert (by_id[edited["id"]]["minutes"], by_id[edited["id"]]["version"]) == (45, 2)
    assert by_id[edited["id"]]["updated_at"] == changed.json()["updated_at"]
    assert body["has_more"] is False
    # Changed in the last minute, they may have company committing late: the cursor stays
    # before them, so they come again rather than anything being missed.
    repeat = (await feed(coach, member, f"{RECORDS_PATH}/workout", cursor=body["cursor"])).json()
    assert [item["id"] for item in repeat["items"]] == list(by_id)
    # Without updated_since, the list is as it was: newest day first, deleted records left out.
    listed = (await coach.get(f"{RECORDS_PATH}/workout", headers=member.headers)).json()
    assert [item["id"] for item in listed["items"]] == [edited["id"], kept["id"]]
    assert "deleted" not in listed["items"][0]


async def test_cursor_pages_cover_every_change_exactly_once_even_at_one_time(
    coach: httpx.AsyncClient, member: Member, coach_database: Database
) -> None:
    ids = [(await builders.record(coach, member, "reading", title=f"Book {n}"))["id"] for n in range(7)]
    for gone in ids[:2]:
        assert (
            await coach.delete(f"{RECORDS_PATH}/reading/{gone}", headers=member.headers)
        ).status_code == 204
    # Every change at the same instant, ten minutes ago (settled): only the id orders them.
    await settle_at(coach_database, Reading, at=utcnow() - timedelta(minutes=10))
    since = (utcnow() - timedelta(minutes=20)).isoformat()

    pages = await read_all(coach, member, f"{RECORDS_PATH}/reading", since, limit=3)
    seen = [item["id"] for page in pages for item in page["items"]]
    assert sorted(seen) == sorted(ids)  # each once
    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    deleted = {item["id"] for page in pages for item in page["items"] if item["deleted"]}
    assert deleted == set(ids[:2])
    # The last cursor answers nothing more, then what changes next.
    last = (await feed(coach, member, f"{RECORDS_PATH}/reading", cursor=pages[-1]["cursor"])).json()
    assert (last["items"], last["has_more"]) == ([], False)
    newer = await builders.record(coach, member, "reading")
    after = (await feed(coach, member, f"{RECORDS_PATH}/reading", cursor=last["cursor"])).json()
    assert [item["id"] for item in after["items"]] == [newer["id"]]


async def test_a_feed_asked_for_wrongly_is_422_and_a_forgotten_position_410(
    coach: httpx.AsyncClient, member: Member
) -> None:
    now = utcnow()
    path = f"{RECORDS_PATH}/sleep"
    for params in (
        {"cursor": "not-a-cursor"},
        {"updated_since": now.isoformat(), "cursor": "x"},
        {"updated_since": now.isoformat(), "from": DAY},
        {"updated_since": now.isoformat(), "limit": 0},
        # Before the first UTC moment (found by the schema fuzzing: it was a 500).
        {"updated_since": "0001-01-01T00:00:00+01:00"},
    ):
        response = await feed(coach, member, path, **params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"]
    gone = await feed(coach, member, path, updated_since=(now - timedelta(days=181)).isoformat())
    assert gone.status_code == 410
    assert "read the full list again" in gone.json()["detail"]


async def test_a_replayed_create_is_the_same_answer_an_update_when_newer_else_409_with_the_servers_copy(
    coach: httpx.AsyncClient, member: Member
) -> None:
    path = f"{RECORDS_PATH}/meal"
    body = {"id": str(uuid.uuid4()), "date": DAY, **RECORDS["meal"]}
    created = await coach.post(path, json=body, headers=member.headers)
    assert created.status_code == 201
    assert created.json()["version"] == 1
    same = await coach.post(path, json=body, headers=member.headers)
    assert (same.status_code, same.json()) == (200, created.json())

    # Edited offline without a newer version: the server's copy wins until the client decides.
    stale = await coach.post(path, json={**body, "calories": 900}, headers=member.headers)
    assert stale.status_code == 409
    assert stale.json()["code"] == "conflict"
    assert "version 1" in stale.json()["detail"]
    assert stale.json()["current"] == created.json()
    newer = await coach.post(path, json={**body, "calories": 900, "version": 2}, headers=member.headers)
    assert newer.status_code == 200, newer.text
    assert (newer.json()["calories"], newer.json()["version"]) == (900, 2)
    assert newer.json()["updated_at"] > created.json()["updated_at"]
    again = await coach.post(path, json={**body, "calories": 900, "version": 2}, headers=member.headers)
    assert (again.status_code, again.json()) == (200, newer.json())
    older = await coach.post(path, json={**body, "calories": 100, "version": 2}, headers=member.headers)
    assert (older.status_code, older.json()["current"]) == (409, newer.json())

    # A PUT from an old version is the same 409.
    put = await coach.put(
        f"{path}/{body['id']}", json={**RECORDS["meal"], "version": 1}, headers=member.headers
    )
    assert (put.status_code, put.json()["current"]) == (409, newer.json())
    day = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()
    assert [meal["calories"] for meal in day["records"]["meal"]] == [900]

    # Deleted meanwhile on another device: the conflict carries the tombstone.
    assert (await coach.delete(f"{path}/{body['id']}", headers=member.headers)).status_code == 204
    revived = await coach.post(path, json={**body, "version": 5}, headers=member.headers)
    assert revived.status_code == 409
    current = revived.json()["current"]
    assert (current["id"], current["deleted"], bool(current["deleted_at"])) == (body["id"], True, True)


async def test_a_create_keeps_the_clients_version(coach: httpx.AsyncClient, member: Member) -> None:
    created = await builders.record(coach, member, "work", version=3)
    assert created["version"] == 3
    read = await coach.get(f"{RECORDS_PATH}/work/{created['id']}", headers=member.headers)
    assert read.headers["etag"] == '"3"'
    # The column is an INTEGER: a larger version is refused, not an overflow in the driver.
    huge = await coach.post(
        f"{RECORDS_PATH}/work", json={**RECORDS["work"], "version": 2**31}, headers=member.headers
    )
    assert huge.status_code == 422


async def test_deletes_are_idempotent_and_deleted_records_leave_every_read(
    coach: httpx.AsyncClient, member: Member
) -> None:
    kept = await builders.record(coach, member, "workout", minutes=20)
    dropped = await builders.record(coach, member, "workout", minutes=40)
    sleep = await builders.record(coach, member, "sleep")
    other = await builders.member(coach)
    theirs = await builders.record(coach, other, "workout")
    for path in (f"{RECORDS_PATH}/workout/{dropped['id']}", f"{RECORDS_PATH}/sleep/{sleep['id']}"):
        assert (await coach.delete(path, headers=member.headers)).status_code == 204
        assert (await coach.delete(path, headers=member.headers)).status_code == 204  # a replay
    for path in (f"{RECORDS_PATH}/workout/{uuid.uuid4()}", f"{RECORDS_PATH}/workout/{theirs['id']}"):
        missing = await coach.delete(path, headers=member.headers)
        assert missing.status_code == 404, path
        assert missing.json()["code"] == "not_found"
    assert (
        await coach.get(f"{RECORDS_PATH}/workout/{theirs['id']}", headers=other.headers)
    ).status_code == 200

    gone = f"{RECORDS_PATH}/workout/{dropped['id']}"
    assert (await coach.get(gone, headers=member.headers)).status_code == 404
    edit = await coach.put(gone, json={**RECORDS["workout"], "version": 2}, headers=member.headers)
    assert edit.status_code == 404
    listed = (await coach.get(f"{RECORDS_PATH}/workout", headers=member.headers)).json()
    assert ([item["id"] for item in listed["items"]], listed["total"]) == ([kept["id"]], 1)
    day = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()
    assert [r["id"] for r in day["records"]["workout"]] == [kept["id"]]
    assert day["records"]["sleep"] == []
    assert day["score_parts"]["sleep"] == 0
    stats = (await coach.get("/api/v1/stats/weekly", params={"date": DAY}, headers=member.headers)).json()
    workout = stats["dimensions"]["workout"]
    assert (workout["total"], workout["records"]) == (20, 1)
    assert stats["dimensions"]["sleep"]["records"] == 0
    exported = (await coach.get("/api/v1/me/export", headers=member.headers)).json()
    assert [r["id"] for r in exported["records"]["workout"]] == [kept["id"]]
    assert exported["records"]["sleep"] == []


async def test_erasing_the_account_removes_the_tombstones_too(
    coach: httpx.AsyncClient, member: Member, coach_database: Database
) -> None:
    record = await builders.record(coach, member, "reading")
    await coach.delete(f"{RECORDS_PATH}/reading/{record['id']}", headers=member.headers)
    token = (await coach.post("/api/v1/me/deletion", headers=member.headers)).json()["confirmation_token"]
    erased = await coach.request(
        "DELETE", "/api/v1/me", json={"confirmation_token": token}, headers=member.headers
    )
    assert erased.status_code == 204
    async with coach_database.sessionmaker() as session:
        assert await session.get(Reading, uuid.UUID(record["id"])) is None


async def test_the_specs_table_names_are_aliases_of_the_dimensions(
    coach: httpx.AsyncClient, member: Member
) -> None:
    tables = {
        "workout": "workouts",
        "meal": "meals",
        "sleep": "sleeps",
        "work": "work_notes",
        "reading": "readings",
    }
    for dimension, table in tables.items():
        created = await coach.post(
            f"{RECORDS_PATH}/{table}", json={"date": DAY, **RECORDS[dimension]}, headers=member.headers
        )
        assert created.status_code == 201, (table, created.text)
        record_path = f"{RECORDS_PATH}/{dimension}/{created.json()['id']}"
        assert (await coach.get(record_path, headers=member.headers)).json() == created.json()
        alias_path = f"{RECORDS_PATH}/{table}/{created.json()['id']}"
        assert (await coach.get(alias_path, headers=member.headers)).json() == created.json()
        listed = (await coach.get(f"{RECORDS_PATH}/{table}", headers=member.headers)).json()
        assert [item["id"] for item in listed["items"]] == [created.json()["id"]]
        edited = await coach.put(
            alias_path, json={**RECORDS[dimension], "version": 1}, headers=member.headers
        )
        assert edited.json()["version"] == 2, table
        assert (await coach.delete(alias_path, headers=member.headers)).status_code == 204
        assert (await coach.get(record_path, headers=member.headers)).status_code == 404

    document = (await coach.get("/openapi.json")).json()
    for dimension, table in tables.items():
        operation = document["paths"][f"{RECORDS_PATH}/{table}"]["post"]
        assert f"Alias of `{RECORDS_PATH}/{dimension}`" in operation["description"]
    unknown = await coach.get(f"{RECORDS_PATH}/swims", headers=member.headers)
    assert unknown.status_code == 404
    assert "workouts, meals, sleeps, work_notes, readings" in unknown.json()["detail"]


async def test_day_logs_have_a_change_feed_and_a_stale_put_is_409_with_the_servers_log(
    coach: httpx.AsyncClient, member: Member, coach_database: Database
) -> None:
    before = (utcnow() - timedelta(seconds=1)).isoformat()
    path = "/api/v1/day-logs"
    first = await coach.put(f"{path}/{DAY}", json={"note": "first"}, headers=member.headers)
    assert first.status_code == 200
    assert first.json()["version"] == 2 and first.json()["updated_at"]
    await coach.put(f"{path}/2026-11-21", json={"status": "reviewed"}, headers=member.headers)
    stale = await coach.put(f"{path}/{DAY}", json={"note": "offline", "version": 1}, headers=member.headers)
    assert stale.status_code == 409
    assert stale.json()["current"] == first.json()
    assert "version 2" in stale.json()["detail"]
    stranger = await builders.member(coach)
    await coach.put(f"{path}/{DAY}", json={"note": "theirs"}, headers=stranger.headers)

    body = (await feed(coach, member, path, updated_since=before)).json()
    assert [(item["date"], item["note"], item["status"]) for item in body["items"]] == [
        (DAY, "first", "open"),
        ("2026-11-21", None, "reviewed"),
    ]
    assert body["items"][0] == {
        "date": DAY,
        "status": "open",
        "note": "first",
        "ai_report": None,
        "ai_plan": None,
        "version": 2,
        "updated_at": first.json()["updated_at"],
    }
    await settle_at(coach_database, DayLog, at=utcnow() - timedelta(minutes=10))
    pages = await read_all(coach, member, path, (utcnow() - timedelta(minutes=20)).isoformat(), limit=1)
    assert [item["date"] for page in pages for item in page["items"]] == [DAY, "2026-11-21"]
    missing = await coach.get(path, headers=member.headers)
    assert missing.status_code == 422
    assert (await coach.get(path, params={"updated_since": before})).status_code == 401


async def test_the_ai_review_leaves_deleted_records_out(
    coach: httpx.AsyncClient, member: Member, run_jobs: Any
) -> None:
    await builders.record(coach, member, "workout", kind="swim", minutes=20)
    dropped = await builders.record(coach, member, "workout", kind="boxing", minutes=60)
    await coach.delete(f"{RECORDS_PATH}/workout/{dropped['id']}", headers=member.headers)
    accepted = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    await run_jobs()
    task = (await coach.get(f"/api/v1/ai/tasks/{accepted.json()['id']}", headers=member.headers)).json()
    assert task["status"] == "succeeded"
    # 20 minutes of the 30 asked for: with the deleted hour, the target would have been met.
    assert any("20 min of 30 min" in line for line in task["result"]["suggestions"]), task["result"]


async def test_the_reading_summary_leaves_deleted_readings_out(
    coach: httpx.AsyncClient, member: Member, run_jobs: Any
) -> None:
    today = utcnow().date().isoformat()
    await builders.record(coach, member, "reading", day=today, title="Kept", minutes=10)
    dropped = await builders.record(coach, member, "reading", day=today, title="Dropped", minutes=10)
    await coach.delete(f"{RECORDS_PATH}/reading/{dropped['id']}", headers=member.headers)
    accepted = await coach.post("/api/v1/ai/reading-summary", json={}, headers=member.headers)
    await run_jobs()
    task = (await coach.get(f"/api/v1/ai/tasks/{accepted.json()['id']}", headers=member.headers)).json()
    assert task["result"]["highlights"] == ["Kept: 20 pages, 10 min"]
