import httpx

from tests.apps.coach import builders
from tests.apps.coach.builders import DAY, Member


async def test_an_empty_day_is_an_open_log_scoring_zero(coach: httpx.AsyncClient, member: Member) -> None:
    response = await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "open"
    assert body["score"] == 0
    assert body["records"] == {"workout": [], "meal": [], "sleep": [], "work": [], "reading": []}
    assert body["ai_report"] is None


async def test_the_day_holds_its_records_and_scores_them_against_targets(coach, member: Member) -> None:
    for dimension in ("workout", "sleep", "work", "reading"):
        await builders.record(coach, member, dimension)
    await builders.record(coach, member, "meal", calories=1500)
    await builders.record(coach, member, "meal", kind="dinner", calories=500)
    await builders.record(coach, member, "workout", day="2026-11-21")
    body = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()
    assert {name: len(items) for name, items in body["records"].items()} == {
        "workout": 1,
        "meal": 2,
        "sleep": 1,
        "work": 1,
        "reading": 1,
    }
    # Defaults: 8 h sleep, 30 min workout, 2000 kcal, 240 focus minutes, 30 reading minutes.
    assert body["score_parts"] == {"sleep": 1.0, "workout": 1.0, "meal": 1.0, "work": 1.0, "reading": 1.0}
    assert body["score"] == 100

    await coach.put(
        "/api/v1/settings/targets", json={"sleep_hours": 10, "workout_minutes": 60}, headers=member.headers
    )
    body = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()
    assert body["score_parts"]["sleep"] == 0.8
    assert body["score_parts"]["workout"] == 0.5
    assert body["score"] == round(100 * (0.8 + 0.5 + 3) / 5)


async def test_status_and_note_are_set_with_an_optional_version(coach, member: Member) -> None:
    path = f"/api/v1/day-logs/{DAY}"
    changed = await coach.put(path, json={"status": "reviewed", "note": "good day"}, headers=member.headers)
    assert changed.status_code == 200
    assert (changed.json()["status"], changed.json()["note"], changed.json()["version"]) == (
        "reviewed",
        "good day",
        2,
    )
    stale = await coach.put(path, json={"status": "open", "version": 1}, headers=member.headers)
    assert stale.status_code == 409
    assert (await coach.get(path, headers=member.headers)).json()["status"] == "reviewed"
    for bad in ({"status": "closed"}, {}, {"status": None}):
        assert (await coach.put(path, json=bad, headers=member.headers)).status_code == 422, bad
    assert (await coach.get("/api/v1/day-logs/2026-13-01", headers=member.headers)).status_code == 422


async def test_day_logs_are_per_user(coach, member: Member) -> None:
    await builders.record(coach, member, "workout")
    other = await builders.member(coach)
    body = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=other.headers)).json()
    assert body["records"]["workout"] == []
