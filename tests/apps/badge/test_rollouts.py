"""Issue 17 item 5: rollouts in waves advanced by the `rollouts` sweep after their soak, stopped
by their failure threshold, rolled back by themselves, and each badge's deployment state."""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiomqtt
import httpx
import orjson
from sqlalchemy import update

from keel.apps.badge import ROLLOUT_SWEEP
from keel.apps.badge.models import Version
from keel.apps.badge.services.versions import bucket
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge
from tests.apps.badge.test_mqtt import served  # noqa: F401  (the fixture)
from tests.apps.badge.test_versions import publish
from tests.databases import MQTT_URL, require_service


async def _version(client: httpx.AsyncClient, admin: Account, version_id: int) -> dict:
    return (await client.get(f"/api/v1/versions/{version_id}", headers=admin.headers)).json()


async def _deployments(client: httpx.AsyncClient, admin: Account, version_id: int, query: str = "") -> dict:
    response = await client.get(
        f"/api/v1/versions/{version_id}/deployments?limit=100{query}", headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _report(client: httpx.AsyncClient, device: Badge, version_id: int, status: str, **fields) -> dict:
    response = await device.request(
        client, "POST", f"/api/v1/versions/{version_id}/report", {"status": status, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _soaked(database: Database, version_id: int, minutes: int) -> None:
    """The current wave started `minutes` ago."""
    async with database.sessionmaker() as session:
        started = datetime.now(UTC) - timedelta(minutes=minutes)
        await session.execute(update(Version).where(Version.id == version_id).values(wave_started_at=started))
        await session.commit()


async def _rollout(client: httpx.AsyncClient, admin: Account, version_id: int, **body) -> httpx.Response:
    return await client.post(f"/api/v1/versions/{version_id}/rollout", json=body, headers=admin.headers)


async def test_a_wave_rollout_advances_after_its_soak(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings, admin: Account
) -> None:
    badges = [await builders.badge(badge, admin) for _ in range(30)]
    version = (await publish(badge, admin, "4.0.0", rollout_percentage=0)).json()
    assert (await _deployments(badge, admin, version["id"]))["total"] == 0
    waves = [{"percentage": 20, "soak_minutes": 30}, {"percentage": 50, "soak_minutes": 60}]
    started = await _rollout(badge, admin, version["id"], percentage=100, waves=waves)
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["rollout_percentage"] == 20 and body["rollout_wave"] == 0
    assert body["rollout_waves"] == [*waves, {"percentage": 100, "soak_minutes": 0}]

    def cohort(percent: int) -> set[str]:
        return {b.device_id for b in badges if bucket("4.0.0", b.device_id) < percent}

    async def deployed() -> dict[str, int]:
        items = (await _deployments(badge, admin, version["id"]))["items"]
        return {item["device_id"]: item["round"] for item in items}

    assert cohort(20) and cohort(50) - cohort(20)  # with 30 badges, all but certain
    first = await deployed()
    assert set(first) == cohort(20) and set(first.values()) == {2}  # publish was round 1, empty

    await ROLLOUT_SWEEP.run(badge_database, settings)  # not soaked yet
    assert (await _version(badge, admin, version["id"]))["rollout_wave"] == 0
    await _soaked(badge_database, version["id"], 31)
    await ROLLOUT_SWEEP.run(badge_database, settings)
    now = await _version(badge, admin, version["id"])
    assert (now["rollout_wave"], now["rollout_percentage"]) == (1, 50)
    second = await deployed()
    assert set(second) == cohort(50)
    assert {device for device, round_ in second.items() if round_ == 3} == cohort(50) - cohort(20)
    inside = next(b for b in badges if b.device_id in cohort(50))
    check = await inside.request(badge, "GET", "/api/v1/versions/check?current_version=1.0.0")
    assert check.json()["latest_version"] == "4.0.0"

    await ROLLOUT_SWEEP.run(badge_database, settings)  # the second wave soaks 60 minutes
    assert (await _version(badge, admin, version["id"]))["rollout_percentage"] == 50
    await _soaked(badge_database, version["id"], 61)
    await ROLLOUT_SWEEP.run(badge_database, settings)
    done = await _version(badge, admin, version["id"])
    assert (done["rollout_wave"], done["rollout_percentage"]) == (2, 100)
    assert set(await deployed()) == {b.device_id for b in badges}
    await ROLLOUT_SWEEP.run(badge_database, settings)  # the last stage: nothing further
    assert (await _version(badge, admin, version["id"]))["rollout_wave"] == 2


async def test_rollout_bodies_are_checked(badge: httpx.AsyncClient, admin: Account) -> None:
    version = (await publish(badge, admin, "4.1.0", rollout_percentage=0)).json()
    bad = [
        {
            "percentage": 100,
            "waves": [{"percentage": 50, "soak_minutes": 1}, {"percentage": 20, "soak_minutes": 1}],
        },
        {"percentage": 40, "waves": [{"percentage": 50, "soak_minutes": 1}]},
        {"percentage": 100, "waves": [{"percentage": 10, "soak_minutes": -1}]},
        {"percentage": 100, "auto_rollback": True},
        {"percentage": 100, "failure_threshold_percent": 101},
    ]
    for body in bad:
        response = await _rollout(badge, admin, version["id"], **body)
        assert response.status_code == 422, body
        assert response.json()["detail"]


async def test_failures_past_the_threshold_pause_the_rollout_and_hold_its_waves(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings, admin: Account, guest: Account
) -> None:
    badges = [await builders.badge(badge, admin) for _ in range(6)]
    version = (await publish(badge, admin, "5.0.0", rollout_percentage=0)).json()
    started = await _rollout(
        badge,
        admin,
        version["id"],
        percentage=100,
        waves=[{"percentage": 99, "soak_minutes": 0}],
        failure_threshold_percent=30,
        failure_min_reports=2,
    )
    assert started.status_code == 200, started.text
    reached = [b for b in badges if bucket("5.0.0", b.device_id) < 99]
    first, second, third = reached[:3]
    # The wave has soaked, but under a threshold it waits for the reports it needs.
    await ROLLOUT_SWEEP.run(badge_database, settings)
    assert (await _version(badge, admin, version["id"]))["rollout_wave"] == 0

    await _report(badge, third, version["id"], "downloading")
    await _report(badge, third, version["id"], "installing")
    failed = await _report(badge, first, version["id"], "failed", error="checksum_mismatch")
    assert failed["status"] == "failed"  # the report's answer as before
    # One outcome, fewer than failure_min_reports: it goes on.
    assert (await _version(badge, admin, version["id"]))["rollout_status"] == "active"
    await _report(badge, second, version["id"], "success", from_version="1.0.0")
    stopped = await _version(badge, admin, version["id"])
    assert stopped["rollout_status"] == "paused" and "past the threshold of 30%" in stopped["paused_reason"]
    check = await first.request(badge, "GET", "/api/v1/versions/check?current_version=1.0.0")
    assert check.json()["has_update"] is False

    listing = await _deployments(badge, admin, version["id"])
    assert listing["counts"] == {
        "queued": len(reached) - 3,
        "downloading": 0,
        "installing": 1,
        "success": 1,
        "failed": 1,
        "rolled_back": 0,
    }
    assert listing["failed_percent"] == 50.0 and listing["total"] == len(reached)
    failures = await _deployments(badge, admin, version["id"], "&state=failed")
    assert [(i["device_id"], i["error"]) for i in failures["items"]] == [
        (first.device_id, "checksum_mismatch")
    ]
    assert failures["total"] == 1
    assert (await _deployments(badge, admin, version["id"], "&limit=2&page=2"))["items"]
    assert (
        await badge.get(f"/api/v1/versions/{version['id']}/deployments?state=maybe", headers=admin.headers)
    ).status_code == 422
    assert (await badge.get("/api/v1/versions/999999/deployments", headers=admin.headers)).status_code == 404
    assert (
        await first.request(badge, "GET", f"/api/v1/versions/{version['id']}/deployments")
    ).status_code == 403
    assert (
        await badge.get(f"/api/v1/versions/{version['id']}/deployments", headers=guest.headers)
    ).status_code == 200
    # A paused rollout's waves stand still.
    await ROLLOUT_SWEEP.run(badge_database, settings)
    assert (await _version(badge, admin, version["id"]))["rollout_wave"] == 0
    stats = (await badge.get("/api/v1/versions/statistics", headers=admin.headers)).json()
    row = next(s for s in stats if s["version_id"] == version["id"])
    assert (row["reports"], row["success"], row["failed"]) == (2, 1, 1)  # outcomes, not progress


async def test_auto_rollback_pushes_the_previous_version_and_check_offers_it(
    served,  # noqa: F811
    badge_database: Database,
) -> None:
    client, _bridge = served
    admin = await builders.account(client, badge_database, "admin")
    took, offline, failing, crashing = [await builders.badge(client, admin) for _ in range(4)]
    good = (await publish(client, admin, "1.1.0", rollout_percentage=0)).json()
    bad = (await publish(client, admin, "1.2.0", rollout_percentage=0)).json()
    body = {
        "percentage": 100,
        "failure_threshold_percent": 40,
        "failure_min_reports": 2,
        "auto_rollback": True,
    }
    assert (await _rollout(client, admin, bad["id"], **body)).status_code == 200
    parts = urlsplit(MQTT_URL)
    async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
        await mqtt.subscribe(f"luna/device/{took.device_id}/update", qos=1)
        await mqtt.subscribe(f"luna/device/{failing.device_id}/update", qos=1)
        await _report(client, took, bad["id"], "success", from_version="1.0.0")
        await _report(client, offline, bad["id"], "success", from_version="1.0.0")
        await _report(client, failing, bad["id"], "failed", error="boot loop")  # 1 of 3: 33%
        assert (await _version(client, admin, bad["id"]))["rollout_status"] == "active"
        await _report(client, crashing, bad["id"], "rolled_back")  # 2 of 4: 50%, past 40%
        rolled = await _version(client, admin, bad["id"])
        assert rolled["rollout_status"] == "rolled_back" and rolled["rollback_version_id"] == good["id"]
        assert "past the threshold of 40%" in rolled["paused_reason"]
        pushed: dict[str, dict] = {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                async for message in mqtt.messages:
                    payload = orjson.loads(message.payload)
                    if payload["version"] == "1.1.0":
                        pushed[message.topic.value.split("/")[2]] = payload
                    if took.device_id in pushed:
                        break
    assert pushed[took.device_id]["force_update"] is True
    assert pushed[took.device_id]["checksum"] == f"sha256:{good['checksum']}"
    assert failing.device_id not in pushed  # it never ran 1.2.0

    # A badge that took 1.2.0 while away from the broker asks over HTTP: the downgrade, forced.
    check = await offline.request(client, "GET", "/api/v1/versions/check?current_version=1.2.0")
    answer = check.json()
    assert answer["has_update"] is True and answer["latest_version"] == "1.1.0"
    assert answer["force_update"] is True and answer["update_info"]["version_id"] == good["id"]
    # Once a newer good version is out, that is offered instead.
    assert (await publish(client, admin, "1.3.0")).status_code == 201
    newer = (await offline.request(client, "GET", "/api/v1/versions/check?current_version=1.2.0")).json()
    assert newer["latest_version"] == "1.3.0" and newer["force_update"] is True
    # The badge that took it reports it is back on what it ran before.
    before = (await client.get(f"/api/v1/devices/{took.device_id}", headers=admin.headers)).json()
    assert before["software_version"] == "1.2.0"
    await _report(client, took, bad["id"], "rolled_back")
    after = (await client.get(f"/api/v1/devices/{took.device_id}", headers=admin.headers)).json()
    assert after["software_version"] == "1.0.0"
    counts = (await _deployments(client, admin, bad["id"]))["counts"]
    assert (counts["success"], counts["failed"], counts["rolled_back"]) == (1, 1, 2)


async def test_a_manual_rollback_is_offered_to_badges_still_running_the_version(
    badge: httpx.AsyncClient, admin: Account, device: Badge
) -> None:
    good = (await publish(badge, admin, "6.0.0")).json()
    bad = (await publish(badge, admin, "6.1.0")).json()
    rolled = await badge.post(f"/api/v1/versions/{bad['id']}/rollback", headers=admin.headers)
    assert rolled.status_code == 200 and rolled.json()["rolled_back"]["rollback_version_id"] == good["id"]
    answer = (await device.request(badge, "GET", "/api/v1/versions/check?current_version=v6.1")).json()
    assert (answer["latest_version"], answer["force_update"]) == ("6.0.0", True)
    current = (await device.request(badge, "GET", "/api/v1/versions/check?current_version=6.0.0")).json()
    assert current["has_update"] is False


async def test_the_sweep_pushes_the_next_wave_over_its_own_mqtt_connection(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings, admin: Account
) -> None:
    require_service("mqtt", MQTT_URL)
    badges = [await builders.badge(badge, admin) for _ in range(20)]
    version = (await publish(badge, admin, "7.0.0", rollout_percentage=0)).json()
    waves = [{"percentage": 10, "soak_minutes": 5}]
    assert (await _rollout(badge, admin, version["id"], percentage=100, waves=waves)).status_code == 200
    later = [b.device_id for b in badges if bucket("7.0.0", b.device_id) >= 10]
    await _soaked(badge_database, version["id"], 6)
    parts = urlsplit(MQTT_URL)
    pushed: set[str] = set()
    async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
        await mqtt.subscribe([(f"luna/device/{device_id}/update", 1) for device_id in later])
        await ROLLOUT_SWEEP.run(badge_database, settings.model_copy(update={"badge_mqtt_url": MQTT_URL}))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                async for message in mqtt.messages:
                    assert orjson.loads(message.payload)["version"] == "7.0.0"
                    pushed.add(message.topic.value.split("/")[2])
                    if len(pushed) == len(later):
                        break
    assert later and pushed == set(later)
