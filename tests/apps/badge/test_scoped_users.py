"""Issue 17 item 8: a `user` sees and changes only the badges bound to them (`user_id`, set by
an admin); admins and guests see the fleet; another user's badge does not exist (404)."""

from datetime import UTC, datetime

import httpx
import pytest

from keel.core.db import Database
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge


@pytest.fixture
async def other_user(badge: httpx.AsyncClient, badge_database: Database) -> Account:
    return await builders.account(badge, badge_database, "user")


def _ids(page: httpx.Response) -> set[str]:
    assert page.status_code == 200, page.text
    return {item["device_id"] for item in page.json()["items"]}


async def test_an_admin_binds_a_badge_to_a_user(
    badge: httpx.AsyncClient, admin: Account, operator: Account, device: Badge
) -> None:
    target = f"/api/v1/devices/{device.device_id}"
    bound = await badge.patch(target, json={"user_id": operator.id}, headers=admin.headers)
    assert bound.status_code == 200 and bound.json()["user_id"] == operator.id
    assert (await badge.get(target, headers=operator.headers)).status_code == 200
    assert (
        await badge.patch(target, json={"user_id": operator.id}, headers=operator.headers)
    ).status_code == 403
    assert (await badge.patch(target, json={"user_id": 999999}, headers=admin.headers)).status_code == 422
    unchanged = await badge.patch(target, json={}, headers=admin.headers)
    assert unchanged.status_code == 200 and unchanged.json()["user_id"] == operator.id
    ghost = await badge.patch("/api/v1/devices/ghost", json={"user_id": operator.id}, headers=admin.headers)
    assert ghost.status_code == 404
    unbound = await badge.patch(target, json={"user_id": None}, headers=admin.headers)
    assert unbound.status_code == 200 and unbound.json()["user_id"] is None
    assert (await badge.get(target, headers=operator.headers)).status_code == 404


async def test_a_user_sees_only_their_badges_and_admins_and_guests_see_all(
    badge: httpx.AsyncClient, admin: Account, guest: Account, operator: Account, other_user: Account
) -> None:
    mine = await builders.badge(badge, admin, user_id=operator.id)
    theirs = await builders.badge(badge, admin, user_id=other_user.id)
    nobodys = await builders.badge(badge, admin)
    everyone = {mine.device_id, theirs.device_id, nobodys.device_id}
    assert _ids(await badge.get("/api/v1/devices", headers=operator.headers)) == {mine.device_id}
    assert _ids(await badge.get("/api/v1/devices", headers=other_user.headers)) == {theirs.device_id}
    assert _ids(await badge.get("/api/v1/devices", headers=admin.headers)) == everyone
    assert _ids(await badge.get("/api/v1/devices", headers=guest.headers)) == everyone
    assert (await badge.get("/api/v1/devices", headers=operator.headers)).json()["total"] == 1
    for path in ("", "/config", "/config/shadow", "/heartbeats", "/heartbeats/daily"):
        assert (
            await badge.get(f"/api/v1/devices/{mine.device_id}{path}", headers=operator.headers)
        ).status_code == 200
        assert (
            await badge.get(f"/api/v1/devices/{theirs.device_id}{path}", headers=operator.headers)
        ).status_code == 404
        assert (
            await badge.get(f"/api/v1/devices/{theirs.device_id}{path}", headers=guest.headers)
        ).status_code == 200
    check = f"/api/v1/versions/check?current_version=1.0.0&device_id={theirs.device_id}"
    assert (await badge.get(check, headers=operator.headers)).status_code == 404


async def test_a_user_changes_only_their_badges(
    badge: httpx.AsyncClient, admin: Account, operator: Account, other_user: Account
) -> None:
    mine = await builders.badge(badge, admin, user_id=operator.id)
    theirs = await builders.badge(badge, admin, user_id=other_user.id)
    config = {"config_key": "volume", "config_value": "5", "config_type": "integer"}
    put = f"/api/v1/devices/{theirs.device_id}/config"
    assert (await badge.put(put, json=config, headers=operator.headers)).status_code == 404
    assert (await badge.put(put, json=config, headers=other_user.headers)).status_code == 200
    mine_put = f"/api/v1/devices/{mine.device_id}/config"
    assert (await badge.put(mine_put, json=config, headers=operator.headers)).status_code == 200
    # Without a broker a command is 409, but another's badge is 404 before that.
    command = {"command": "reboot"}
    sent = await badge.post(
        f"/api/v1/devices/{theirs.device_id}/command", json=command, headers=operator.headers
    )
    assert sent.status_code == 404
    own = await badge.post(
        f"/api/v1/devices/{mine.device_id}/command", json=command, headers=operator.headers
    )
    assert own.status_code == 409
    centre = {**config, "device_id": theirs.device_id}
    assert (await badge.put("/api/v1/configs", json=centre, headers=operator.headers)).status_code == 404
    batch = {"device_ids": [mine.device_id, theirs.device_id], "items": [{**config, "config_value": "9"}]}
    refused = await badge.post("/api/v1/configs/batch", json=batch, headers=operator.headers)
    assert refused.status_code == 404 and theirs.device_id in refused.json()["detail"]
    values = await badge.get(f"/api/v1/configs?device_id={mine.device_id}", headers=operator.headers)
    assert [row["config_value"] for row in values.json()] == ["5"]  # nothing of the refused batch
    assert (
        await badge.get(f"/api/v1/configs?device_id={theirs.device_id}", headers=operator.headers)
    ).status_code == 404
    listed = (await badge.get("/api/v1/configs", headers=operator.headers)).json()
    assert {row["device_id"] for row in listed} == {mine.device_id}
    # A module-wide key applies to every badge using the module: admins only.
    module = {"module_name": "yolo", "module_type": "vision", "module_version": "1.0.0"}
    assert (await badge.post("/api/v1/modules", json=module, headers=admin.headers)).status_code == 201
    module_wide = {**config, "module_name": "yolo"}
    assert (await badge.put("/api/v1/configs", json=module_wide, headers=operator.headers)).status_code == 403
    assert (await badge.put("/api/v1/configs", json=module_wide, headers=admin.headers)).status_code == 200


async def test_rollback_checks_permission_before_it_changes_anything(
    badge: httpx.AsyncClient, admin: Account, operator: Account, other_user: Account
) -> None:
    theirs = await builders.badge(badge, admin, user_id=other_user.id)
    target = f"/api/v1/devices/{theirs.device_id}/config"
    for value in ("1", "2"):
        body = {"config_key": "volume", "config_value": value, "config_type": "integer"}
        assert (await badge.put(target, json=body, headers=other_user.headers)).status_code == 200
    config_id = (await badge.get(target, headers=admin.headers)).json()[0]["id"]
    history = f"/api/v1/configs/{config_id}/history"
    assert (await badge.get(history, headers=operator.headers)).status_code == 404
    rollback = f"/api/v1/configs/{config_id}/rollback"
    assert (await badge.post(rollback, json={"version": "1"}, headers=operator.headers)).status_code == 404
    # Nothing changed: still version 2 with two history rows.
    assert [h["version"] for h in (await badge.get(history, headers=admin.headers)).json()] == ["2", "1"]
    # Encrypted: refused before the rollback, for a user even on their own badge.
    secret = {"config_key": "wifi_password", "config_value": "a", "is_encrypted": True}
    for value in ("a", "b"):
        assert (
            await badge.put(target, json={**secret, "config_value": value}, headers=admin.headers)
        ).status_code == 200
    secret_id = next(
        row["id"] for row in (await badge.get(target, headers=admin.headers)).json() if row["is_encrypted"]
    )
    refused = await badge.post(
        f"/api/v1/configs/{secret_id}/rollback", json={"version": "1"}, headers=other_user.headers
    )
    assert refused.status_code == 403
    versions = (await badge.get(f"/api/v1/configs/{secret_id}/history", headers=admin.headers)).json()
    assert [h["version"] for h in versions] == ["2", "1"]
    done = await badge.post(rollback, json={"version": "1"}, headers=other_user.headers)
    assert done.status_code == 200 and done.json()["config_value"] == "1"


async def test_a_user_reads_and_resolves_only_their_badges_logs_and_alerts(
    badge: httpx.AsyncClient, admin: Account, operator: Account, other_user: Account
) -> None:
    mine = await builders.badge(badge, admin, user_id=operator.id)
    theirs = await builders.badge(badge, admin, user_id=other_user.id)
    rule = {"name": "crash", "kind": "critical_logs", "threshold": 1, "window_minutes": 10}
    assert (await badge.post("/api/v1/alert-rules", json=rule, headers=admin.headers)).status_code == 201
    for device in (mine, theirs):
        sent = await device.request(
            badge,
            "POST",
            f"/api/v1/devices/{device.device_id}/logs",
            builders.log("critical", timestamp=datetime.now(UTC).isoformat()),
        )
        assert sent.status_code == 201, sent.text
    logs = (await badge.get("/api/v1/logs", headers=operator.headers)).json()
    assert [item["device_id"] for item in logs["items"]] == [mine.device_id]
    assert (await badge.get("/api/v1/logs", headers=admin.headers)).json()["total"] == 2
    assert (
        await badge.get(f"/api/v1/logs?device_id={theirs.device_id}", headers=operator.headers)
    ).status_code == 404
    statistics = (await badge.get("/api/v1/logs/statistics", headers=operator.headers)).json()
    assert statistics["total"] == 1
    exported = await badge.get("/api/v1/logs/export?format=json", headers=operator.headers)
    assert [row["device_id"] for row in exported.json()] == [mine.device_id]
    their_log = (await badge.get("/api/v1/logs", headers=other_user.headers)).json()["items"][0]["id"]
    resolve = {"resolution": "not mine to say"}
    assert (
        await badge.put(f"/api/v1/logs/{their_log}/resolve", json=resolve, headers=operator.headers)
    ).status_code == 404
    assert (
        await badge.put(f"/api/v1/logs/{their_log}/resolve", json=resolve, headers=other_user.headers)
    ).status_code == 200
    alerts = (await badge.get("/api/v1/alerts", headers=operator.headers)).json()
    assert [item["device_id"] for item in alerts["items"]] == [mine.device_id]
    their_alert = (await badge.get("/api/v1/alerts", headers=other_user.headers)).json()["items"][0]["id"]
    acknowledge = f"/api/v1/alerts/{their_alert}/acknowledge"
    assert (await badge.post(acknowledge, headers=operator.headers)).status_code == 404
    assert (await badge.post(acknowledge, headers=other_user.headers)).status_code == 200
