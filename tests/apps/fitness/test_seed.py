"""`keel seed --demo`'s fitness data, seeded twice: the athlete's demo sessions are stored once,
with their curves, counted in their totals and in the back office's activity."""

import httpx

from keel.apps.fitness.seed import DEMO_SESSIONS, DEMO_USER, seed
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.fitness import builders
from tests.apps.fitness.builders import Athlete


async def test_the_demo_athletes_sessions_are_seeded_once_with_their_curves(
    fitness: httpx.AsyncClient, fitness_database: Database, settings: Settings, admin: Athlete
) -> None:
    for _ in range(2):
        async with fitness_database.sessionmaker() as session:
            await seed(session, settings, demo=True)
            await session.commit()
    email, _name, password = DEMO_USER
    token = (await builders.login(fitness, email, password)).json()["access_token"]
    mine = await fitness.get("/api/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    items = mine.json()["items"]
    assert sorted(item["client_session_id"] for item in items) == sorted(s[0] for s in DEMO_SESSIONS)
    course = next(item for item in items if item["client_session_id"] == "demo-rower-1")
    assert (course["source_type"], course["training_id"] is not None) == ("backend", True)

    detail = await fitness.get(f"/api/v1/admin/sessions/{course['id']}", headers=admin.headers)
    points = detail.json()["time_series_data"]
    assert len(points) == 20 * 6 + 1
    assert set(points[0]) == {"t", "watts", "spm", "pace_500m", "distance", "heart_rate"}
    user = await fitness.get(f"/api/v1/admin/users/{course['user_id']}", headers=admin.headers)
    activity = user.json()["activity"]
    assert activity["sessions"] == len(DEMO_SESSIONS)
    assert [device["device_type"] for device in activity["by_device"]] == ["rower", "bike", "treadmill"]
    assert user.json()["stats"]["total_duration_seconds"] == activity["duration_seconds"]
