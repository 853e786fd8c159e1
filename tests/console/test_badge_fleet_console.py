"""The badge fleet console in a real browser against `keel serve` on `keel seed --demo`'s data:
the admin signs in through the page; a badge registered through the API sends a signed
heartbeat and its row turns online without a reload, its drawer showing the heartbeat and its
battery; the logs are filtered to the critical ones (the chart drawn) and exported as CSV; the
seeded alert is acknowledged; an error code is made with its two messages.
KEEL_CONSOLE_SCREENSHOTS=1 writes the devices, logs and alerts pages to docs/console/."""

import csv
import io
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from keel.apps.badge.services.signatures import sign
from tests.serving import KeelServe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "console"
ADMIN = {"email": "admin@example.com", "password": "admin12345"}
SIZE = {"width": 1280, "height": 800}
DEVICE = "luna_badge_console"


def _admin(api: str) -> dict[str, str]:
    token = httpx.post(f"{api}/auth/login", json=ADMIN).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _register(api: str, admin: dict[str, str]) -> dict[str, Any]:
    answer = httpx.post(
        f"{api}/devices/register",
        headers=admin,
        json={"device_id": DEVICE, "device_name": "Front Desk Badge", "software_version": "1.1.0"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _send(server: KeelServe, badge: dict[str, Any], suffix: str, payload: dict[str, Any]) -> None:
    """A signed device request, as a badge makes it over HTTP."""
    target = f"/badge/api/v1/devices/{DEVICE}/{suffix}"
    body = orjson.dumps(payload)
    stamp = str(int(time.time()))
    headers = {
        "Authorization": f"Bearer {badge['device_token']}",
        "X-Timestamp": stamp,
        "X-Signature": sign(badge["device_secret"], "POST", target, body, stamp),
        "Content-Type": "application/json",
    }
    answer = httpx.post(f"{server.url}{target}", content=body, headers=headers)
    assert answer.status_code == 201, answer.text


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def test_an_admin_watches_the_fleet_exports_logs_and_acknowledges_an_alert(
    server: KeelServe, chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    api = f"{server.url}/badge/api/v1"
    admin = _admin(api)
    badge = _register(api, admin)
    shots = tmp_path / "shots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=SIZE, accept_downloads=True)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/admin/badge/devices")
            page.wait_for_url(re.compile(r"/admin/badge/sign-in\?next=/badge/devices$"))
            page.fill("input[name=email]", ADMIN["email"])
            page.fill("input[name=password]", ADMIN["password"])
            page.click("button[type=submit]")
            page.wait_for_url("**/admin/badge/devices")

            # Simplified Chinese, badge's own: the seeded badge's heartbeat was just now.
            devices = page.locator("[data-test=devices]")
            expect(devices.locator("tr", has_text="luna_badge_001")).to_contain_text("在线")
            row = devices.locator("tr", has_text=DEVICE)
            expect(row.locator("[data-status]")).to_have_attribute("data-status", "offline")
            expect(row).to_contain_text("从未上报")

            # The badge reports; its row turns online with no reload (the list is read again).
            _send(server, badge, "status", {"timestamp": _now(), "performance": {"battery": 64}})
            _send(
                server,
                badge,
                "heartbeat",
                {"timestamp": _now(), "cpu_usage": 12.5, "memory_usage": 40, "temperature": 38.5},
            )
            expect(row.locator("[data-status]")).to_have_attribute("data-status", "online")
            expect(row).to_contain_text("在线")

            page.locator("[data-test=device-search]").fill("front desk")
            page.locator("[data-test=device-search]").press("Enter")
            expect(devices.locator(".el-table__body tr")).to_have_count(1)
            page.locator("[data-test=device-search]").fill("")
            page.locator("[data-test=device-search]").press("Enter")
            expect(devices.locator(".el-table__body tr")).to_have_count(4)

            # Its drawer: the heartbeat and the status report's battery.
            page.locator(f"[data-test=open-{DEVICE}]").click()
            drawer = page.locator(".el-drawer")
            expect(drawer.locator("[data-test=drawer-status]")).to_have_text("在线")
            expect(drawer.locator("[data-test=drawer-heartbeat]")).to_contain_text("12.5 %")
            expect(drawer.locator("[data-test=drawer-heartbeat]")).to_contain_text("38.5 °C")
            expect(drawer.locator("[data-test=drawer-performance]")).to_contain_text("电量")
            expect(drawer.locator("[data-test=drawer-performance]")).to_contain_text("64 %")
            page.mouse.move(0, 0)
            page.screenshot(path=shots / "badge-devices.png", animations="disabled")
            drawer.locator(".el-drawer__close-btn").click()
            expect(drawer).to_be_hidden()

            # Logs: the week's statistics drawn, the critical ones filtered and exported.
            page.get_by_role("menuitem", name="日志").click()
            page.wait_for_url("**/admin/badge/logs")
            expect(page.locator("[data-test=logs-chart] canvas")).to_be_visible()
            expect(page.locator("[data-test=stats-total]")).to_contain_text("共 8 条")
            logs = page.locator("[data-test=logs] .el-table__body > tbody > tr")
            expect(logs).to_have_count(8)
            page.locator("[data-test=log-level]").click()
            page.get_by_role("option", name="严重").click()
            expect(logs).to_have_count(2)
            expect(logs.first).to_contain_text("Temperature too high")
            page.mouse.move(0, 0)
            page.screenshot(path=shots / "badge-logs.png", animations="disabled")
            with page.expect_download() as download:
                page.locator("[data-test=export-csv]").click()
            assert download.value.suggested_filename.endswith(".csv")
            exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
            assert [line["error_level"] for line in exported] == ["critical", "critical"]
            assert all(line["device_id"] == "luna_badge_002" for line in exported)

            # Alerts: the seeded one acknowledged, gone from the open ones.
            page.get_by_role("menuitem", name="告警").click()
            page.wait_for_url("**/admin/badge/alerts")
            alerts = page.locator("[data-test=alerts] .el-table__body tr")
            expect(alerts).to_have_count(1)
            expect(alerts.first).to_contain_text("Two critical logs in 5 minutes")
            page.mouse.move(0, 0)
            page.screenshot(path=shots / "badge-alerts.png", animations="disabled")
            alerts.first.get_by_role("button", name="确认").click()
            expect(page.locator("[data-test=alerts]")).to_contain_text("没有数据")
            done = httpx.get(f"{api}/alerts", params={"acknowledged": "true"}, headers=admin).json()
            assert [alert["device_id"] for alert in done["items"]] == ["luna_badge_002"]

            # Error codes: one made with its two messages, shown in the page's language.
            page.get_by_role("menuitem", name="错误码").click()
            page.wait_for_url("**/admin/badge/error-codes")
            expect(page.locator("[data-test=error-codes]")).to_contain_text("摄像头无法打开")
            page.locator("[data-test=new-code]").click()
            page.fill("input[name=code]", "E3001")
            page.fill("input[name=message_zh]", "电池电量低")
            page.fill("input[name=message_en]", "Battery low")
            page.locator("[data-test=save-code]").click()
            expect(page.locator("[data-test=error-codes] tr", has_text="E3001")).to_contain_text("电池电量低")
            looked = httpx.get(f"{api}/error-codes/E3001", params={"lang": "en"}, headers=admin).json()
            assert looked["message"] == "Battery low"

            # Modules: the seeded registry with its dependencies.
            page.get_by_role("menuitem", name="模块").click()
            page.wait_for_url("**/admin/badge/modules")
            expect(page.locator("[data-test=modules] tr", has_text="whisper")).to_contain_text("tts >=1.0.0")
            assert errors == []
        finally:
            browser.close()

    if os.environ.get("KEEL_CONSOLE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copyfile(shot, DOCS / shot.name)
