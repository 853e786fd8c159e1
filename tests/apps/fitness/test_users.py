import httpx
import pytest

from tests.apps.fitness.builders import Athlete

ME = "/api/v1/users/me"


async def test_me_has_the_profile_and_its_stats(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    body = (await fitness.get(ME, headers=athlete.headers)).json()
    assert body["id"] == athlete.id
    assert body["stats"] == {
        "total_distance_km": 0.0,
        "total_duration_seconds": 0,
        "total_calories": 0.0,
        "total_xp": 0,
        "current_level": 1,
        "workout_streak_days": 0,
        "last_workout_date": None,
    }
    assert (await fitness.get(ME)).status_code == 401


async def test_patch_me_changes_only_what_is_sent(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    response = await fitness.patch(
        ME,
        json={
            "display_name": "Rower Rin",
            "gender": "f",
            "height_cm": 168.5,
            "weight_kg": 61,
            "timezone": "Asia/Taipei",
        },
        headers=athlete.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["display_name"], body["gender"], body["height_cm"], body["weight_kg"], body["timezone"]) == (
        "Rower Rin",
        "f",
        168.5,
        61.0,
        "Asia/Taipei",
    )
    again = (await fitness.patch(ME, json={"weight_kg": 60}, headers=athlete.headers)).json()
    assert (again["display_name"], again["height_cm"], again["weight_kg"]) == ("Rower Rin", 168.5, 60.0)
    cleared = (await fitness.patch(ME, json={"height_cm": None}, headers=athlete.headers)).json()
    assert cleared["height_cm"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"height_cm": 49.9}, "height_cm"),
        ({"height_cm": 272.1}, "height_cm"),
        ({"weight_kg": 19}, "weight_kg"),
        ({"weight_kg": 401}, "weight_kg"),
        ({"gender": "x"}, "gender"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": None}, "body"),
        ({"email": "new@example.com"}, "email"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
async def test_patch_me_refuses_out_of_range_values(
    fitness: httpx.AsyncClient, athlete: Athlete, body: dict, field: str
) -> None:
    before = (await fitness.get(ME, headers=athlete.headers)).json()
    response = await fitness.patch(ME, json=body, headers=athlete.headers)
    assert response.status_code == 422, body
    assert field in response.json()["detail"][0]["loc"]
    assert (await fitness.get(ME, headers=athlete.headers)).json() == before


async def test_the_apps_totals_overwrite_the_servers(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    response = await fitness.patch(
        f"{ME}/stats",
        json={
            "total_distance_km": 123.4,
            "total_xp": 5000,
            "current_level": 7,
            "last_workout_date": "2026-11-20T07:00:00Z",
        },
        headers=athlete.headers,
    )
    assert response.status_code == 200
    stats = response.json()["stats"]
    assert (stats["total_distance_km"], stats["total_xp"], stats["current_level"]) == (123.4, 5000, 7)
    assert stats["last_workout_date"] == "2026-11-20T07:00:00Z"
    assert stats["total_calories"] == 0.0
    for body in ({"total_xp": -1}, {"total_distance_km": -0.1}, {"current_level": 0}, {"total_xp": None}):
        refused = await fitness.patch(f"{ME}/stats", json=body, headers=athlete.headers)
        assert refused.status_code == 422, body
    assert (await fitness.get(ME, headers=athlete.headers)).json()["stats"]["total_xp"] == 5000
