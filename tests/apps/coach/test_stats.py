import asyncio
import datetime as dt
from typing import Any

import httpx

from tests.apps.coach import builders
from tests.apps.coach.builders import Member

# 2026-11-16 is a Monday.
WEEK = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"]


async def test_weekly_totals_averages_targets_streaks_and_change(
    coach: httpx.AsyncClient, member: Member
) -> None:
    await builders.record(coach, member, "workout", day="2026-11-10", minutes=60)  # the week before
    for day in WEEK[:3]:
        await builders.record(coach, member, "workout", day=day, minutes=30)
    await builders.record(coach, member, "workout", day=WEEK[5], minutes=10)
    await builders.record(coach, member, "workout", day=WEEK[6], minutes=45)
    await builders.record(coach, member, "meal", day=WEEK[0], calories=2100)
    response = await coach.get("/api/v1/stats/weekly", params={"date": "2026-11-19"}, headers=member.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["start"], body["end"], body["days"]) == (
        "weekly",
        "2026-11-16",
        "2026-11-22",
        7,
    )
    workout = body["dimensions"]["workout"]
    assert workout["unit"] == "minutes"
    assert workout["total"] == 145
    assert workout["average"] == round(145 / 7, 2)
    assert workout["records"] == 5
    assert workout["target"] == 30
    assert workout["days_met"] == 4
    assert workout["streak"] == 1  # Sunday only: Saturday's 10 minutes broke it
    assert workout["previous_total"] == 60
    assert workout["change_pct"] == round((145 - 60) / 60 * 100, 1)
    meal = body["dimensions"]["meal"]
    assert (meal["days_met"], meal["change_pct"]) == (1, None)  # within 10% of 2000 kcal
    assert body["score_average"] > 0


async def test_the_ai_summary_is_written_once_per_period_when_asked(coach, member: Member, run_jobs) -> None:
    today = dt.date.today()
    monday = today - dt.timedelta(days=today.weekday())
    await builders.record(coach, member, "workout", day=today.isoformat())
    params = {"date": today.isoformat()}
    browsed = (await coach.get("/api/v1/stats/weekly", params=params, headers=member.headers)).json()
    assert (browsed["ai_summary"], browsed["ai_summary_task_id"]) == (None, None)  # not asked for
    asked = {**params, "summary": "true"}
    first = (await coach.get("/api/v1/stats/weekly", params=asked, headers=member.headers)).json()
    assert first["ai_summary"] is None
    assert first["ai_summary_task_id"]
    again = (await coach.get("/api/v1/stats/weekly", params=asked, headers=member.headers)).json()
    assert again["ai_summary_task_id"] == first["ai_summary_task_id"]
    await run_jobs()
    done = (await coach.get("/api/v1/stats/weekly", params=params, headers=member.headers)).json()
    assert done["ai_summary"].startswith(f"Well done for keeping track. Weekly from {monday.isoformat()}")
    assert done["ai_summary_task_id"] == first["ai_summary_task_id"]
    task = await coach.get(f"/api/v1/ai/tasks/{first['ai_summary_task_id']}", headers=member.headers)
    assert task.json()["type"] == "stats_summary"
    listed = await coach.get("/api/v1/ai/tasks", params={"type": "stats_summary"}, headers=member.headers)
    assert listed.json()["total"] == 1


async def test_monthly_stats_and_validation(coach, member: Member) -> None:
    await builders.record(coach, member, "reading", day="2026-11-01", minutes=40)
    await builders.record(coach, member, "reading", day="2026-10-31", minutes=20)
    body = (
        await coach.get("/api/v1/stats/monthly", params={"date": "2026-11-30"}, headers=member.headers)
    ).json()
    assert (body["start"], body["end"], body["days"]) == ("2026-11-01", "2026-11-30", 30)
    reading = body["dimensions"]["reading"]
    assert (reading["total"], reading["previous_total"], reading["change_pct"]) == (40, 20, 100.0)
    assert (
        await coach.get("/api/v1/stats/monthly", params={"date": "soon"}, headers=member.headers)
    ).status_code == 422
    # Periods whose week before, or whose month's end, the calendar does not have: 422, not 500.
    for path in ("/api/v1/stats/weekly", "/api/v1/stats/monthly"):
        for day in ("0001-01-01", "9999-12-31"):
            edge = await coach.get(path, params={"date": day}, headers=member.headers)
            assert edge.status_code == 422, (path, day, edge.text)
    assert (await coach.get("/api/v1/stats/weekly")).status_code == 401
    other = await builders.member(coach)
    theirs = (
        await coach.get("/api/v1/stats/monthly", params={"date": "2026-11-30"}, headers=other.headers)
    ).json()
    assert theirs["dimensions"]["reading"]["total"] == 0


async def _workout_week(coach: httpx.AsyncClient, member: Member) -> dict[str, Any]:
    response = await coach.get("/api/v1/stats/weekly", params={"date": WEEK[3]}, headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()["dimensions"]["workout"]


async def test_edits_moves_and_deletes_change_the_totals_once(
    coach: httpx.AsyncClient, member: Member
) -> None:
    stored = await builders.record(coach, member, "workout", day=WEEK[1], minutes=30)
    replay = {"id": stored["id"], "date": WEEK[1], "kind": "run", "minutes": 30, "calories": 300}
    again = await coach.post("/api/v1/records/workout", json=replay, headers=member.headers)
    assert again.status_code == 200, again.text  # a replayed create counts nothing twice
    assert (await _workout_week(coach, member))["total"] == 30

    path = f"/api/v1/records/workout/{stored['id']}"
    edit = {"kind": "run", "minutes": 45, "version": 1}
    assert (await coach.put(path, json=edit, headers=member.headers)).status_code == 200
    stale = await coach.put(path, json={**edit, "minutes": 90}, headers=member.headers)
    assert stale.status_code == 409  # and changes nothing
    week = await _workout_week(coach, member)
    assert (week["total"], week["records"], week["previous_total"]) == (45, 1, 0)

    moved = {"kind": "run", "minutes": 50, "date": "2026-11-12", "version": 2}  # into the week before
    assert (await coach.put(path, json=moved, headers=member.headers)).status_code == 200
    week = await _workout_week(coach, member)
    assert (week["total"], week["records"], week["previous_total"]) == (0, 0, 50)

    assert (await coach.delete(path, headers=member.headers)).status_code == 204
    assert (await coach.delete(path, headers=member.headers)).status_code == 204  # a replay: nothing more
    week = await _workout_week(coach, member)
    assert (week["total"], week["previous_total"]) == (0, 0)


async def test_concurrent_records_of_one_day_are_all_counted(
    coach: httpx.AsyncClient, member: Member
) -> None:
    async def create(minutes: int) -> int:
        body = {"date": WEEK[2], "kind": "run", "minutes": minutes}
        return (await coach.post("/api/v1/records/workout", json=body, headers=member.headers)).status_code

    statuses = await asyncio.gather(*(create(minutes) for minutes in range(1, 21)))
    assert statuses == [201] * 20
    week = await _workout_week(coach, member)
    assert (week["total"], week["records"]) == (sum(range(1, 21)), 20)
