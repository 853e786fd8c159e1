"""The back office's reads: every user's sessions and accounts, every course, every platform's
versions; only for an admin."""

import uuid
from datetime import timedelta

import httpx
import pytest

from tests.apps.fitness import builders
from tests.apps.fitness.builders import Athlete
from tests.apps.fitness.test_sessions import DAY, upload, workout
from tests.apps.fitness.test_trainings import make

ADMIN = "/api/v1/admin"


async def member(fitness: httpx.AsyncClient, **overrides: str) -> Athlete:
    body = (await builders.register(fitness, **overrides)).json()
    return Athlete(body["user"]["id"], body["user"]["email"], body["access_token"], body["refresh_token"])


def client_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["client_session_id"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    "path",
    [
        "/sessions",
        "/sessions/00000000-0000-4000-8000-000000000000",
        "/users",
        "/users/1",
        "/trainings",
        "/trainings/1",
        "/app_versions",
    ],
)
async def test_only_an_admin_reads_the_back_office(
    fitness: httpx.AsyncClient, athlete: Athlete, admin: Athlete, path: str
) -> None:
    assert (await fitness.get(ADMIN + path)).status_code == 401
    refused = await fitness.get(ADMIN + path, headers=athlete.headers)
    assert (refused.status_code, refused.json()) == (403, {"detail": "Administrator access required"})
    assert (await fitness.get(ADMIN + path, headers=admin.headers)).status_code in (200, 404)


async def test_sessions_of_every_user_newest_first_with_their_owner(
    fitness: httpx.AsyncClient, admin: Athlete
) -> None:
    ann, li = await member(fitness), await member(fitness, display_name="李小明")
    old = workout(DAY - timedelta(days=5), source_type="local", internal_course_name="Warm-up")
    bike = workout(DAY, device="bike")
    new = workout(DAY + timedelta(days=1))
    await upload(fitness, ann, old, bike)
    await upload(fitness, li, new)

    listing = await fitness.get(f"{ADMIN}/sessions", headers=admin.headers)
    assert client_ids(listing) == [
        new["client_session_id"],
        bike["client_session_id"],
        old["client_session_id"],
    ]
    first = listing.json()["items"][0]
    assert first["user"] == {"id": li.id, "email": li.email, "display_name": "李小明"}
    assert listing.json()["items"][1]["user"]["id"] == ann.id
    assert "time_series_data" not in first
    assert (listing.json()["total"], listing.json()["total_pages"]) == (3, 1)

    async def listed(**params: str | int) -> list[str]:
        return client_ids(await fitness.get(f"{ADMIN}/sessions", params=params, headers=admin.headers))

    assert await listed(user_id=ann.id) == [bike["client_session_id"], old["client_session_id"]]
    assert await listed(user_id=li.id) == [new["client_session_id"]]
    assert await listed(user_id=999_999) == []
    assert await listed(device_type="rower") == [new["client_session_id"], old["client_session_id"]]
    assert await listed(device_type="bike") == [bike["client_session_id"]]
    assert await listed(source_type="local") == [old["client_session_id"]]
    assert await listed(user_id=ann.id, device_type="rower") == [old["client_session_id"]]
    # `from` is inclusive, `to` exclusive, both on the start time.
    assert await listed(**{"from": DAY.isoformat()}) == [new["client_session_id"], bike["client_session_id"]]
    assert await listed(to=DAY.isoformat()) == [old["client_session_id"]]
    window = {"from": (DAY - timedelta(hours=1)).isoformat(), "to": (DAY + timedelta(hours=1)).isoformat()}
    assert await listed(**window) == [bike["client_session_id"]]

    paged = (
        await fitness.get(f"{ADMIN}/sessions", params={"page": 2, "limit": 2}, headers=admin.headers)
    ).json()
    assert (paged["total"], paged["total_pages"], paged["page"]) == (3, 2, 2)
    assert [item["client_session_id"] for item in paged["items"]] == [old["client_session_id"]]
    filtered = (
        await fitness.get(f"{ADMIN}/sessions", params={"user_id": ann.id, "limit": 1}, headers=admin.headers)
    ).json()
    assert (filtered["total"], filtered["total_pages"], len(filtered["items"])) == (2, 2, 1)


@pytest.mark.parametrize(
    "params",
    [
        {"source_type": "kayak"},
        {"user_id": 0},
        {"user_id": "ann"},
        {"from": "yesterday"},
        {"device_type": "x" * 17},
        {"limit": 101},
        {"from": DAY.isoformat(), "to": (DAY - timedelta(seconds=1)).isoformat()},
    ],
)
async def test_bad_session_filters_are_422(fitness: httpx.AsyncClient, admin: Athlete, params: dict) -> None:
    refused = await fitness.get(f"{ADMIN}/sessions", params=params, headers=admin.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"]


async def test_any_users_session_with_its_series_and_owner(
    fitness: httpx.AsyncClient, admin: Athlete
) -> None:
    ann = await member(fitness, display_name="Ann")
    mine = workout(client_session_id="phone-42")
    stored_id = (await upload(fitness, ann, mine)).json()["results"][0]["id"]
    detail = await fitness.get(f"{ADMIN}/sessions/{stored_id}", headers=admin.headers)
    assert detail.status_code == 200
    body = detail.json()
    assert (body["id"], body["client_session_id"]) == (stored_id, mine["client_session_id"])
    assert body["time_series_data"] == mine["time_series_data"]
    assert body["metrics_summary"] == mine["metrics_summary"]
    assert body["user"] == {"id": ann.id, "email": ann.email, "display_name": "Ann"}
    missing = await fitness.get(f"{ADMIN}/sessions/{uuid.uuid4()}", headers=admin.headers)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Session not found"})
    # The back office goes by server id: client ids are only unique per user.
    assert (
        await fitness.get(f"{ADMIN}/sessions/{mine['client_session_id']}", headers=admin.headers)
    ).status_code == 422


async def test_users_are_searched_by_email_or_name_in_any_case(
    fitness: httpx.AsyncClient, admin: Athlete
) -> None:
    li = await member(fitness, display_name="李小明")
    elodie = await member(fitness, display_name="Élodie Durand")
    rin = await member(fitness, display_name="Rower Rin", email="Rin.Okada@Example.org")

    async def found(q: str) -> list[int]:
        response = await fitness.get(f"{ADMIN}/users", params={"q": q}, headers=admin.headers)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == len(response.json()["items"])
        return [user["id"] for user in response.json()["items"]]

    assert await found("小明") == [li.id]
    assert await found("élodie") == [elodie.id]
    assert await found("ÉLODIE") == [elodie.id]
    assert await found("dURAND") == [elodie.id]
    assert await found("RIN.okada@example") == [rin.id]
    assert await found("rower rin") == [rin.id]
    assert await found("EXAMPLE.ORG") == [rin.id]
    assert await found("example.com") == [elodie.id, li.id, admin.id]
    # LIKE's wildcards are matched as themselves.
    assert await found("%") == []
    assert await found("_") == []
    assert await found("nobody") == []

    everyone = (await fitness.get(f"{ADMIN}/users", headers=admin.headers)).json()
    assert [user["id"] for user in everyone["items"]] == [rin.id, elodie.id, li.id, admin.id]
    assert everyone["items"][0]["email"] == "rin.okada@example.org"
    assert everyone["items"][0]["is_active"] is True
    assert "hashed_password" not in everyone["items"][0]
    paged = (
        await fitness.get(f"{ADMIN}/users", params={"page": 2, "limit": 3}, headers=admin.headers)
    ).json()
    assert (paged["total"], paged["total_pages"], [u["id"] for u in paged["items"]]) == (4, 2, [admin.id])
    for bad in ({"q": "x" * 101}, {"q": "a\x00b"}, {"page": 0}):
        refused = await fitness.get(f"{ADMIN}/users", params=bad, headers=admin.headers)
        assert refused.status_code == 422 and refused.json()["detail"], bad


async def test_a_users_detail_has_their_totals(fitness: httpx.AsyncClient, admin: Athlete) -> None:
    ann, other = await member(fitness, display_name="李小明"), await member(fitness)
    await upload(fitness, ann, workout(DAY), workout(DAY + timedelta(days=1)))
    await upload(fitness, other, workout(DAY))
    detail = await fitness.get(f"{ADMIN}/users/{ann.id}", headers=admin.headers)
    assert detail.status_code == 200
    body = detail.json()
    assert (body["id"], body["email"], body["display_name"]) == (ann.id, ann.email, "李小明")
    assert "hashed_password" not in body
    stats = body["stats"]
    assert (stats["total_xp"], stats["total_duration_seconds"], stats["workout_streak_days"]) == (
        120,
        3600,
        2,
    )
    assert stats["total_distance_km"] == pytest.approx(12.0)
    assert stats == (await fitness.get("/api/v1/users/me", headers=ann.headers)).json()["stats"]
    missing = await fitness.get(f"{ADMIN}/users/999999", headers=admin.headers)
    assert (missing.status_code, missing.json()) == (404, {"detail": "User not found"})
    assert (await fitness.get(f"{ADMIN}/users/0", headers=admin.headers)).status_code == 422


async def test_a_users_activity_is_summed_from_their_stored_sessions_per_device(
    fitness: httpx.AsyncClient, admin: Athlete
) -> None:
    ann, other = await member(fitness), await member(fitness)
    nothing = (await fitness.get(f"{ADMIN}/users/{ann.id}", headers=admin.headers)).json()["activity"]
    assert nothing == {
        "sessions": 0,
        "duration_seconds": 0,
        "calories": 0,
        "distance_meters": 0,
        "first_start_time": None,
        "last_start_time": None,
        "by_device": [],
    }
    first = workout(DAY - timedelta(days=3), minutes=20)
    bike = workout(DAY - timedelta(days=1), minutes=45, device="bike", total_calories=400.0)
    last = workout(DAY, minutes=30, total_distance_meters=5000.0)
    await upload(fitness, ann, first, bike, last)
    await upload(fitness, other, workout(DAY + timedelta(days=2)))
    # The app's overwrite of the totals leaves the activity, counted from the sessions, alone.
    overwrite = await fitness.patch("/api/v1/users/me/stats", json={"total_calories": 1}, headers=ann.headers)
    assert overwrite.status_code == 200, overwrite.text

    body = (await fitness.get(f"{ADMIN}/users/{ann.id}", headers=admin.headers)).json()
    assert body["stats"]["total_calories"] == 1
    activity = body["activity"]
    assert (activity["sessions"], activity["duration_seconds"]) == (3, (20 + 45 + 30) * 60)
    assert activity["calories"] == pytest.approx(250.5 * 2 + 400)
    assert activity["distance_meters"] == pytest.approx(6000 * 2 + 5000)
    assert activity["first_start_time"][:16] == first["start_time"][:16]
    assert activity["last_start_time"][:16] == last["start_time"][:16]
    rower, cycle = activity["by_device"]
    assert (rower["device_type"], rower["sessions"], rower["duration_seconds"]) == ("rower", 2, 50 * 60)
    assert rower["distance_meters"] == pytest.approx(11000)
    assert rower["last_start_time"][:16] == last["start_time"][:16]
    assert (cycle["device_type"], cycle["sessions"], cycle["calories"]) == ("bike", 1, pytest.approx(400))
    assert cycle["last_start_time"][:16] == bike["start_time"][:16]


async def test_the_admin_sees_disabled_trainings_the_app_does_not(
    fitness: httpx.AsyncClient, admin: Athlete
) -> None:
    hill = await make(fitness, admin)
    draft = await make(fitness, admin, title="Draft", type="game", supported_devices=["rower"], enabled=False)
    retired = await make(fitness, admin, title="Retired")
    assert (
        await fitness.delete(f"/api/v1/trainings/{retired['id']}", headers=admin.headers)
    ).status_code == 204

    async def listed(**params: str) -> list[int]:
        response = await fitness.get(f"{ADMIN}/trainings", params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == len(response.json()["items"])
        return [item["id"] for item in response.json()["items"]]

    assert await listed() == [hill["id"], draft["id"], retired["id"]]
    assert await listed(enabled="false") == [draft["id"], retired["id"]]
    assert await listed(enabled="true") == [hill["id"]]
    assert await listed(device_type="rower") == [draft["id"]]
    assert await listed(type="game") == [draft["id"]]
    assert await listed(enabled="false", device_type="bike") == [retired["id"]]
    public = (await fitness.get("/api/v1/trainings")).json()
    assert [item["id"] for item in public["items"]] == [hill["id"]]

    shown = await fitness.get(f"{ADMIN}/trainings/{draft['id']}", headers=admin.headers)
    assert (shown.status_code, shown.json()["enabled"], shown.json()["title"]) == (200, False, "Draft")
    assert shown.json()["settings"] == draft["settings"]
    assert (await fitness.get(f"/api/v1/trainings/{draft['id']}")).status_code == 404
    missing = await fitness.get(f"{ADMIN}/trainings/999999", headers=admin.headers)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Training not found"})
    for bad in ({"enabled": "maybe"}, {"device_type": "kayak"}, {"type": "lecture"}):
        assert (await fitness.get(f"{ADMIN}/trainings", params=bad, headers=admin.headers)).status_code == 422


async def test_every_platforms_published_versions(fitness: httpx.AsyncClient, admin: Athlete) -> None:
    assert (await fitness.get(f"{ADMIN}/app_versions", headers=admin.headers)).json() == []
    ios = {
        "latest_version": "2.1.0",
        "min_supported_version": "1.4",
        "store_url": "https://apps.apple.com/app/1",
    }
    android = {
        "latest_version": "2.0.3",
        "min_supported_version": "2.0.0",
        "store_url": "https://play.google.com/store/apps/details?id=x",
        "release_notes": "Rowing curves",
    }
    for platform, body in (("ios", ios), ("android", android)):
        published = await fitness.put(
            f"/api/v1/meta/app_version/{platform}", json=body, headers=admin.headers
        )
        assert published.status_code == 200, published.text
    records = (await fitness.get(f"{ADMIN}/app_versions", headers=admin.headers)).json()
    assert [record["platform"] for record in records] == ["android", "ios"]
    assert {key: records[0][key] for key in android} == android
    assert {key: records[1][key] for key in ios} == ios
    assert records[1]["release_notes"] is None
    assert records[0]["updated_at"]
