import httpx

from tests.apps.coach.builders import Member


async def test_targets_default_change_partially_and_are_validated(
    coach: httpx.AsyncClient, member: Member
) -> None:
    path = "/api/v1/settings/targets"
    assert (await coach.get(path, headers=member.headers)).json() == {
        "sleep_hours": 8.0,
        "workout_minutes": 30,
        "calories": 2000,
        "focus_minutes": 240,
        "reading_minutes": 30,
    }
    changed = await coach.put(path, json={"sleep_hours": 7.5, "calories": 1800}, headers=member.headers)
    assert changed.status_code == 200
    assert changed.json()["sleep_hours"] == 7.5
    assert changed.json()["workout_minutes"] == 30
    for bad in ({"sleep_hours": 25}, {"calories": -1}, {"workout_minutes": "lots"}, {"sleep_hours": None}):
        assert (await coach.put(path, json=bad, headers=member.headers)).status_code == 422, bad
    assert (await coach.get(path, headers=member.headers)).json()["calories"] == 1800


async def test_notifications_and_ai_style(coach, member: Member) -> None:
    notifications = (await coach.get("/api/v1/settings/notifications", headers=member.headers)).json()
    assert notifications["review_time"] == "21:30"
    changed = await coach.put(
        "/api/v1/settings/notifications",
        json={"review_time": "22:15", "plan_reminder": False},
        headers=member.headers,
    )
    assert changed.status_code == 200
    stored = (await coach.get("/api/v1/settings/notifications", headers=member.headers)).json()
    assert (stored["review_time"], stored["plan_reminder"]) == ("22:15", False)
    bad = await coach.put(
        "/api/v1/settings/notifications", json={"review_time": "25:00"}, headers=member.headers
    )
    assert bad.status_code == 422

    assert (await coach.get("/api/v1/settings/ai", headers=member.headers)).json() == {
        "style": "gentle",
        "language": "en",
    }
    assert (
        await coach.put(
            "/api/v1/settings/ai", json={"style": "direct", "language": "zh"}, headers=member.headers
        )
    ).status_code == 200
    assert (await coach.get("/api/v1/settings/ai", headers=member.headers)).json()["style"] == "direct"
    assert (
        await coach.put("/api/v1/settings/ai", json={"style": "rude"}, headers=member.headers)
    ).status_code == 422
    assert (await coach.get("/api/v1/settings/ai")).status_code == 401
