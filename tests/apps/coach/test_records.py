import uuid

import httpx
import pytest

from tests.apps.coach import builders
from tests.apps.coach.builders import DAY, RECORDS, Member

DIMENSIONS = list(RECORDS)


@pytest.mark.parametrize("dimension", DIMENSIONS)
async def test_each_dimension_is_created_read_listed_edited_and_deleted(
    coach: httpx.AsyncClient, member: Member, dimension: str
) -> None:
    created = await builders.record(coach, member, dimension, note="first")
    assert created["version"] == 1
    assert created["date"] == DAY
    assert created["note"] == "first"
    path = f"/api/v1/records/{dimension}/{created['id']}"
    read = await coach.get(path, headers=member.headers)
    assert read.status_code == 200
    assert read.json() == created
    assert read.headers["etag"] == '"1"'

    listed = await coach.get(f"/api/v1/records/{dimension}", headers=member.headers)
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["items"]] == [created["id"]]
    assert listed.json()["total"] == 1

    edited = await coach.put(
        path, json={**RECORDS[dimension], "note": "second"}, headers={**member.headers, "If-Match": '"1"'}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["note"] == "second"

    assert (await coach.delete(path, headers=member.headers)).status_code == 204
    assert (await coach.get(path, headers=member.headers)).status_code == 404
    # A replayed delete (an offline queue's) is no error.
    assert (await coach.delete(path, headers=member.headers)).status_code == 204


async def test_a_nul_inside_a_list_is_422_naming_the_field(coach: httpx.AsyncClient, member: Member) -> None:
    # PostgreSQL refuses NUL in text, JSON text too: this was a 500 there (schemathesis).
    body = {"date": DAY, **RECORDS["meal"], "items": ["rice", "to\x00fu"]}
    refused = await coach.post("/api/v1/records/meal", json=body, headers=member.headers)
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "items"] and "NUL" in problem["msg"]
    listed = await coach.get("/api/v1/records/meal", headers=member.headers)
    assert listed.json()["total"] == 0


async def test_a_replayed_create_with_the_client_id_returns_the_same_record(coach, member: Member) -> None:
    record_id = str(uuid.uuid4())
    body = {"id": record_id, "date": DAY, **RECORDS["workout"]}
    first = await coach.post("/api/v1/records/workout", json=body, headers=member.headers)
    assert first.status_code == 201
    again = await coach.post("/api/v1/records/workout", json=body, headers=member.headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    listed = await coach.get("/api/v1/records/workout", headers=member.headers)
    assert listed.json()["total"] == 1
    # Another user cannot take over (or learn about) the id.
    other = await builders.member(coach)
    taken = await coach.post("/api/v1/records/workout", json=body, headers=other.headers)
    assert taken.status_code == 409
    assert taken.json()["code"] == "conflict"


async def test_a_stale_put_is_409_and_changes_nothing(coach, member: Member) -> None:
    created = await builders.record(coach, member, "reading")
    path = f"/api/v1/records/reading/{created['id']}"
    first = await coach.put(
        path, json={**RECORDS["reading"], "pages": 40, "version": 1}, headers=member.headers
    )
    assert first.status_code == 200
    stale = await coach.put(
        path, json={**RECORDS["reading"], "pages": 1, "version": 1}, headers=member.headers
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "conflict"
    assert "version 2" in stale.json()["detail"]
    stored = (await coach.get(path, headers=member.headers)).json()
    assert stored["pages"] == 40
    assert stored["version"] == 2


async def test_put_needs_a_version_and_validates_it(coach, member: Member) -> None:
    created = await builders.record(coach, member, "meal")
    path = f"/api/v1/records/meal/{created['id']}"
    missing = await coach.put(path, json=RECORDS["meal"], headers=member.headers)
    assert missing.status_code == 428
    assert missing.json()["code"] == "precondition_required"
    garbled = await coach.put(path, json=RECORDS["meal"], headers={**member.headers, "If-Match": "abc"})
    assert garbled.status_code == 422
    disagree = await coach.put(
        path, json={**RECORDS["meal"], "version": 1}, headers={**member.headers, "If-Match": "2"}
    )
    assert disagree.status_code == 422
    assert (await coach.get(path, headers=member.headers)).json()["version"] == 1


async def test_an_edit_can_move_a_record_to_another_day(coach, member: Member) -> None:
    created = await builders.record(coach, member, "work")
    path = f"/api/v1/records/work/{created['id']}"
    moved = await coach.put(
        path, json={**RECORDS["work"], "date": "2026-11-21", "version": 1}, headers=member.headers
    )
    assert moved.status_code == 200
    old_day = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()
    new_day = (await coach.get("/api/v1/day-logs/2026-11-21", headers=member.headers)).json()
    assert old_day["records"]["work"] == []
    assert [r["id"] for r in new_day["records"]["work"]] == [created["id"]]


async def test_an_unknown_dimension_is_404_naming_the_valid_ones(coach, member: Member) -> None:
    for method, path in (
        ("GET", "/api/v1/records/swimming"),
        ("POST", "/api/v1/records/swimming"),
        ("GET", f"/api/v1/records/swimming/{uuid.uuid4()}"),
        ("PUT", f"/api/v1/records/swimming/{uuid.uuid4()}"),
        ("DELETE", f"/api/v1/records/swimming/{uuid.uuid4()}"),
    ):
        response = await coach.request(method, path, json={}, headers=member.headers)
        assert response.status_code == 404, (method, path)
        assert response.json() == {
            "detail": "Unknown dimension 'swimming'; the dimensions are: workout, meal, sleep, work, "
            "reading (or their tables: workouts, meals, sleeps, work_notes, readings)",
            "code": "not_found",
        }


@pytest.mark.parametrize(
    ("dimension", "bad"),
    [
        ("workout", {"minutes": 0}),
        ("workout", {"minutes": 1441}),
        ("meal", {"kind": "brunch"}),
        ("meal", {"items": "rice"}),
        ("sleep", {"quality": 6}),
        ("sleep", {"bed_time": "2026-11-19T23:00:00"}),  # no offset
        ("sleep", {"wake_time": "2026-11-19T22:00:00+08:00"}),  # before bed time
        ("work", {"focus_minutes": -1}),
        ("reading", {"title": ""}),
        ("reading", {"date": "2026-02-30"}),
    ],
)
async def test_fields_are_validated(coach, member: Member, dimension: str, bad: dict) -> None:
    response = await coach.post(
        f"/api/v1/records/{dimension}",
        json={"date": DAY, **RECORDS[dimension], **bad},
        headers=member.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


async def test_another_users_record_is_404(coach, member: Member) -> None:
    created = await builders.record(coach, member, "workout")
    other = await builders.member(coach)
    path = f"/api/v1/records/workout/{created['id']}"
    assert (await coach.get(path, headers=other.headers)).status_code == 404
    put = await coach.put(path, json={**RECORDS["workout"], "version": 1}, headers=other.headers)
    assert put.status_code == 404
    assert (await coach.delete(path, headers=other.headers)).status_code == 404
    assert (await coach.get(path, headers=member.headers)).json()["version"] == 1
    assert (await coach.get("/api/v1/records/workout", headers=other.headers)).json()["total"] == 0


async def test_lists_filter_by_dates_and_paginate(coach, member: Member) -> None:
    for day in ("2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"):
        await builders.record(coach, member, "workout", day=day)
    ranged = await coach.get(
        "/api/v1/records/workout", params={"from": "2026-11-19", "to": "2026-11-20"}, headers=member.headers
    )
    assert [r["date"] for r in ranged.json()["items"]] == ["2026-11-20", "2026-11-19"]
    page = await coach.get("/api/v1/records/workout", params={"limit": 3, "page": 2}, headers=member.headers)
    assert page.json()["total"] == 4
    assert [r["date"] for r in page.json()["items"]] == ["2026-11-18"]
    bad = await coach.get("/api/v1/records/workout", params={"from": "yesterday"}, headers=member.headers)
    assert bad.status_code == 422


async def test_a_record_without_a_date_belongs_to_the_day_where_the_user_lives(coach) -> None:
    who = await builders.member(coach, timezone="Pacific/Kiritimati")  # UTC+14
    sleep = RECORDS["sleep"] | {
        "wake_time": "2026-11-20T20:00:00+00:00",
        "bed_time": "2026-11-20T12:00:00+00:00",
    }
    response = await coach.post("/api/v1/records/sleep", json=sleep, headers=who.headers)
    assert response.status_code == 201
    assert response.json()["date"] == "2026-11-21"  # 20:00 UTC is the next morning there
    assert response.json()["duration_minutes"] == 480


async def test_records_need_a_token(coach) -> None:
    response = await coach.get("/api/v1/records/workout")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_a_sleep_at_the_edge_of_the_calendar_is_422_not_500(coach, member: Member) -> None:
    # Moving these to UTC or to the user's zone overflowed datetime (schemathesis found it).
    for bed, wake in (
        ("9999-12-31T20:00:00-12:00", "9999-12-31T23:00:00-12:00"),
        ("0001-01-01T00:00:00+12:00", "0001-01-01T05:00:00+12:00"),
    ):
        body = {**RECORDS["sleep"], "bed_time": bed, "wake_time": wake}
        response = await coach.post("/api/v1/records/sleep", json=body, headers=member.headers)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "bed_time"]
