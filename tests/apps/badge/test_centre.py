"""Modules, the config centre, error codes and alerts."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from keel.apps.badge.models import Device
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge


async def _module(
    client: httpx.AsyncClient, admin: Account, name: str, version: str, **fields
) -> httpx.Response:
    body = {"module_name": name, "module_type": "vision", "module_version": version, **fields}
    return await client.post("/api/v1/modules", json=body, headers=admin.headers)


async def test_modules_registry_and_compatibility(
    badge: httpx.AsyncClient, admin: Account, guest: Account
) -> None:
    assert (await _module(badge, admin, "tts", "1.1.0")).status_code == 201
    assert (
        await _module(badge, admin, "whisper", "1.3.0", dependencies={"tts": ">=1.0.0,<2"})
    ).status_code == 201
    assert (await _module(badge, admin, "yolo", "2.0.0", dependencies={"camera": "^1.0"})).status_code == 201
    assert (await _module(badge, admin, "tts", "1.2.0")).status_code == 409
    assert (await _module(badge, admin, "x", "1.0.0", dependencies={"tts": "about 1"})).status_code == 422
    assert (await _module(badge, admin, "x", "1.0.0", config_schema={"type": "nonsense"})).status_code == 422
    listed = (await badge.get("/api/v1/modules", headers=guest.headers)).json()
    assert [m["module_name"] for m in listed] == ["tts", "whisper", "yolo"]
    assert (await badge.get("/api/v1/modules/nope", headers=guest.headers)).status_code == 404

    async def check(*modules: dict) -> dict:
        response = await badge.post(
            "/api/v1/modules/compatibility", json={"modules": list(modules)}, headers=guest.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    ok = await check({"module_name": "whisper"})
    assert ok == {
        "compatible": True,
        "resolved": {"whisper": "1.3.0", "tts": "1.1.0"},
        "missing": [],
        "conflicts": [],
    }
    missing = await check({"module_name": "yolo"})
    assert missing["compatible"] is False
    assert missing["missing"] == [{"module_name": "camera", "required_by": "yolo", "constraint": "^1.0"}]
    conflict = await check({"module_name": "whisper"}, {"module_name": "tts", "version": "2.0.0"})
    assert (
        conflict["conflicts"][0]["module_name"] == "tts" and conflict["conflicts"][0]["available"] == "1.1.0"
    )
    patched = await badge.patch(
        "/api/v1/modules/tts", json={"module_version": "2.1.0"}, headers=admin.headers
    )
    assert patched.status_code == 200
    assert (await check({"module_name": "whisper"}))["conflicts"][0]["constraint"] == ">=1.0.0,<2"
    assert (
        await badge.patch("/api/v1/modules/tts", json={"module_version": None}, headers=admin.headers)
    ).status_code == 422
    assert (await badge.delete("/api/v1/modules/yolo", headers=guest.headers)).status_code == 403
    assert (await badge.delete("/api/v1/modules/yolo", headers=admin.headers)).status_code == 204
    assert (await check({"module_name": "yolo"}))["missing"][0]["module_name"] == "yolo"


async def test_config_types_schema_history_rollback_and_encryption(
    badge: httpx.AsyncClient, admin: Account, operator: Account, guest: Account
) -> None:
    device = await builders.badge(badge, admin, user_id=operator.id)  # the operator's to change
    schema = {
        "type": "object",
        "properties": {"detection_interval": {"type": "integer", "minimum": 1, "maximum": 60}},
    }
    assert (await _module(badge, admin, "yolo", "2.0.0", config_schema=schema)).status_code == 201
    target = f"/api/v1/devices/{device.device_id}/config"

    async def put(value: str, kind: str = "integer", who: Account = operator, **extra) -> httpx.Response:
        body = {
            "config_key": "detection_interval",
            "config_value": value,
            "config_type": kind,
            "module_name": "yolo",
            **extra,
        }
        return await badge.put(target, json=body, headers=who.headers)

    first = await put("5")
    assert first.status_code == 200, first.text
    assert first.json()["version"] == "1"
    assert (await put("five")).status_code == 422
    assert (await put("500")).status_code == 422  # against the module's schema
    assert (await put("1.5", "float")).status_code == 422  # the schema wants an integer
    assert (await put("5", "colour")).status_code == 422
    assert (await put("10")).json()["version"] == "2"
    assert (
        await badge.put(
            "/api/v1/devices/nope/config",
            json={"config_key": "a", "config_value": "b"},
            headers=operator.headers,
        )
    ).status_code == 404
    config_id = first.json()["id"]
    history = (await badge.get(f"/api/v1/configs/{config_id}/history", headers=guest.headers)).json()
    assert [(h["version"], h["config_value"]) for h in history] == [("2", "10"), ("1", "5")]
    rolled = await badge.post(
        f"/api/v1/configs/{config_id}/rollback", json={"version": "1"}, headers=operator.headers
    )
    assert (
        rolled.status_code == 200 and rolled.json()["config_value"] == "5" and rolled.json()["version"] == "3"
    )
    assert (
        await badge.post(
            f"/api/v1/configs/{config_id}/rollback", json={"version": "9"}, headers=operator.headers
        )
    ).status_code == 404
    assert (
        await badge.post(
            f"/api/v1/configs/{config_id}/rollback", json={"version": "3"}, headers=operator.headers
        )
    ).status_code == 409
    for kind, value, ok in (
        ("bool", "yes", True),
        ("bool", "maybe", False),
        ("json", '{"a": 1}', True),
        ("json", "{", False),
    ):
        body = {"config_key": f"k_{kind}", "config_value": value, "config_type": kind}
        assert (await badge.put(target, json=body, headers=operator.headers)).status_code == (
            200 if ok else 422
        )
    secret = {"config_key": "wifi_password", "config_value": "hunter22", "is_encrypted": True}
    assert (await badge.put(target, json=secret, headers=operator.headers)).status_code == 403
    assert (await badge.put(target, json=secret, headers=admin.headers)).json()["config_value"] == "hunter22"

    def shown(rows: list[dict]) -> str | None:
        return next(row["config_value"] for row in rows if row["config_key"] == "wifi_password")

    assert shown((await badge.get(target, headers=operator.headers)).json()) is None
    assert shown((await badge.get(target, headers=admin.headers)).json()) == "hunter22"
    assert shown((await device.request(badge, "GET", target)).json()) == "hunter22"
    assert (
        shown(
            (await badge.get(f"/api/v1/configs?device_id={device.device_id}", headers=guest.headers)).json()
        )
        is None
    )
    detail = (await badge.get(f"/api/v1/devices/{device.device_id}", headers=admin.headers)).json()
    # Desired, not applied: config_version waits for the device's report (the shadow).
    assert int(detail["desired_config_version"]) >= 6 and detail["config_version"] is None


async def test_batch_and_templates_are_all_or_nothing(
    badge: httpx.AsyncClient, admin: Account, operator: Account
) -> None:
    first, second = [await builders.badge(badge, admin, user_id=operator.id) for _ in range(2)]
    items = [{"config_key": "volume", "config_value": "7", "config_type": "integer"}]
    body = {"device_ids": [first.device_id, second.device_id], "items": items}
    done = await badge.post("/api/v1/configs/batch", json=body, headers=operator.headers)
    assert done.status_code == 200 and done.json() == {"devices": 2, "changed": 2}
    partial = {
        "device_ids": [first.device_id, "ghost"],
        "items": [{"config_key": "volume", "config_value": "9", "config_type": "integer"}],
    }
    refused = await badge.post("/api/v1/configs/batch", json=partial, headers=operator.headers)
    assert refused.status_code == 404 and "ghost" in refused.json()["detail"]
    values = (
        await badge.get(f"/api/v1/configs?device_id={first.device_id}", headers=operator.headers)
    ).json()
    assert [row["config_value"] for row in values] == ["7"]  # nothing of the refused batch stayed
    template = {
        "name": "quiet",
        "items": [{"config_key": "volume", "config_value": "2", "config_type": "integer"}],
    }
    assert (
        await badge.post("/api/v1/configs/templates", json=template, headers=operator.headers)
    ).status_code == 403
    created = await badge.post("/api/v1/configs/templates", json=template, headers=admin.headers)
    assert created.status_code == 201
    assert (
        await badge.post("/api/v1/configs/templates", json=template, headers=admin.headers)
    ).status_code == 409
    applied = await badge.post(
        f"/api/v1/configs/templates/{created.json()['id']}/apply",
        json={"device_ids": [second.device_id]},
        headers=operator.headers,
    )
    assert applied.json() == {"devices": 1, "changed": 1}
    values = (
        await badge.get(f"/api/v1/configs?device_id={second.device_id}", headers=operator.headers)
    ).json()
    assert values[0]["config_value"] == "2" and values[0]["version"] == "2"
    assert len((await badge.get("/api/v1/configs/templates", headers=operator.headers)).json()) == 1
    missing = await badge.post(
        "/api/v1/configs/templates/999999/apply",
        json={"device_ids": [second.device_id]},
        headers=operator.headers,
    )
    assert missing.status_code == 404


async def test_error_codes_lookup_by_language_and_statistics(
    badge: httpx.AsyncClient, admin: Account, guest: Account, device: Badge
) -> None:
    code = {
        "code": "E1001",
        "level": "error",
        "module_name": "yolo",
        "message_zh": "摄像头无法打开",
        "message_en": "Camera cannot be opened",
        "guide_en": "Check the cable",
    }
    assert (await badge.post("/api/v1/error-codes", json=code, headers=guest.headers)).status_code == 403
    assert (await badge.post("/api/v1/error-codes", json=code, headers=admin.headers)).status_code == 201
    assert (await badge.post("/api/v1/error-codes", json=code, headers=admin.headers)).status_code == 409
    zh = (await badge.get("/api/v1/error-codes/E1001?lang=zh", headers=guest.headers)).json()
    assert zh["message"] == "摄像头无法打开" and zh["guide"] is None
    en = (await device.request(badge, "GET", "/api/v1/error-codes/E1001?lang=en")).json()
    assert en["message"] == "Camera cannot be opened" and en["guide"] == "Check the cable"
    assert (await badge.get("/api/v1/error-codes/E1001?lang=fr", headers=guest.headers)).status_code == 422
    assert (await badge.get("/api/v1/error-codes/E404", headers=guest.headers)).status_code == 404
    now = datetime.now(UTC).isoformat()
    for entry in (builders.log("error", code="E1001", timestamp=now),) * 2 + (
        builders.log("error", code="E7", timestamp=now),
    ):
        assert (
            await device.request(badge, "POST", f"/api/v1/devices/{device.device_id}/logs", entry)
        ).status_code == 201
    stats = (await badge.get("/api/v1/error-codes/statistics?period=1d", headers=guest.headers)).json()
    assert stats == [
        {"code": "E1001", "count": 2, "level": "error", "message": "Camera cannot be opened"},
        {"code": "E7", "count": 1, "level": None, "message": None},
    ]
    patched = await badge.patch(
        "/api/v1/error-codes/E1001", json={"level": "critical"}, headers=admin.headers
    )
    assert patched.json()["level"] == "critical"
    assert (await badge.get("/api/v1/error-codes?level=critical", headers=guest.headers)).json()[0][
        "code"
    ] == "E1001"


async def test_alert_rules_raise_list_and_acknowledge(
    badge: httpx.AsyncClient, admin: Account, operator: Account, guest: Account, badge_database
) -> None:
    device = await builders.badge(badge, admin, user_id=operator.id)  # the operator acknowledges
    rule = {"name": "crash loop", "kind": "critical_logs", "threshold": 2, "window_minutes": 10}
    assert (await badge.post("/api/v1/alert-rules", json=rule, headers=operator.headers)).status_code == 403
    assert (
        await badge.post("/api/v1/alert-rules", json={**rule, "device_id": "ghost"}, headers=admin.headers)
    ).status_code == 422
    assert (await badge.post("/api/v1/alert-rules", json=rule, headers=admin.headers)).status_code == 201
    now = datetime.now(UTC).isoformat()
    target = f"/api/v1/devices/{device.device_id}/logs"
    await device.request(badge, "POST", target, builders.log("critical", timestamp=now))
    assert (await badge.get("/api/v1/alerts", headers=guest.headers)).json()["total"] == 0
    await device.request(badge, "POST", target, builders.log("critical", timestamp=now))
    await device.request(badge, "POST", target, builders.log("critical", timestamp=now))
    alerts = (await badge.get("/api/v1/alerts?acknowledged=false", headers=guest.headers)).json()
    assert alerts["total"] == 1  # one open alert per rule and device, however many logs follow
    alert_id = alerts["items"][0]["id"]
    assert (
        await badge.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=guest.headers)
    ).status_code == 403
    acked = await badge.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=operator.headers)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == operator.id
    assert (
        await badge.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=operator.headers)
    ).status_code == 409
    assert (
        await badge.post("/api/v1/alerts/999999/acknowledge", headers=operator.headers)
    ).status_code == 404
    offline = {"name": "silent", "kind": "device_offline", "window_minutes": 1}
    assert (await badge.post("/api/v1/alert-rules", json=offline, headers=admin.headers)).status_code == 201
    # The device's heartbeat is recent: nothing to raise.
    await device.request(badge, "POST", f"/api/v1/devices/{device.device_id}/heartbeat", builders.heartbeat())
    assert (await badge.post("/api/v1/alerts/evaluate", headers=admin.headers)).json() == {"raised": 0}
    async with badge_database.engine.begin() as connection:
        await connection.execute(
            update(Device)
            .where(Device.device_id == device.device_id)
            .values(last_heartbeat=datetime.now(UTC) - timedelta(hours=2))
        )
    assert (await badge.post("/api/v1/alerts/evaluate", headers=admin.headers)).json() == {"raised": 1}
    assert (await badge.post("/api/v1/alerts/evaluate", headers=admin.headers)).json() == {"raised": 0}
    assert (
        "offline since"
        in (await badge.get("/api/v1/alerts", headers=guest.headers)).json()["items"][0]["message"]
    )
    rules = (await badge.get("/api/v1/alert-rules", headers=guest.headers)).json()
    assert [r["kind"] for r in rules] == ["critical_logs", "device_offline"]
    assert (
        await badge.delete(f"/api/v1/alert-rules/{rules[0]['id']}", headers=admin.headers)
    ).status_code == 204
    assert (
        await badge.delete(f"/api/v1/alert-rules/{rules[0]['id']}", headers=admin.headers)
    ).status_code == 404
