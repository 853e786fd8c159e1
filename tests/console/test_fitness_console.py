"""The fitness console in a real browser against `keel serve` on `keel seed --demo`'s data: the
demo athlete uploads a rower session through the API, the admin signs in through the page, opens
the sessions across users and expands the athlete's row: its `metrics_summary` is drawn through
`/meta/schemas` (labels in the page's language, units) and a key without a schema is shown raw.
KEEL_CONSOLE_SCREENSHOTS=1 writes the sessions page to docs/console/ for the README."""

import os
import re
import shutil
from pathlib import Path

import httpx

from tests.serving import KeelServe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "console"
ADMIN = {"email": "admin@example.com", "password": "admin12345"}
ATHLETE = {"email": "athlete@example.com", "password": "password123"}
SIZE = {"width": 1280, "height": 800}


def _rower_session(fitness: str) -> None:
    token = httpx.post(f"{fitness}/api/v1/auth/login", json=ATHLETE).json()["access_token"]
    stored = httpx.post(
        f"{fitness}/api/v1/sessions",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "client_session_id": "console-rower-1",
            "device_type": "rower",
            "start_time": "2026-12-01T07:00:00Z",
            "end_time": "2026-12-01T07:20:00Z",
            "duration_seconds": 1200,
            "total_calories": 231.5,
            "total_distance_meters": 4850,
            # A key the rower's schema does not define: stored as sent, shown raw.
            "metrics_summary": {"avg_watts": 182.5, "avg_heart_rate": 141, "peak_stroke_force": 612},
        },
    )
    assert stored.status_code == 201, stored.text


def test_an_admin_expands_a_session_drawn_through_the_schema(
    server: KeelServe, chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    _rower_session(f"{server.url}/fitness")
    shots = tmp_path / "shots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=SIZE)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/admin/fitness/sessions")
            page.wait_for_url(re.compile(r"/admin/fitness/sign-in\?next=/fitness/sessions$"))
            # fitness's login answers tokens only: whether one is an admin comes from /users/me.
            page.fill("input[name=email]", ATHLETE["email"])
            page.fill("input[name=password]", ATHLETE["password"])
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("這個帳號不是管理員")
            page.fill("input[name=email]", ADMIN["email"])
            page.fill("input[name=password]", ADMIN["password"])
            page.click("button[type=submit]")
            page.wait_for_url("**/admin/fitness/sessions")

            row = page.locator("[data-test=sessions] tr", has_text=ATHLETE["email"])
            expect(row).to_contain_text("rower")
            expect(row).to_contain_text("自由訓練")
            row.locator(".el-table__expand-icon").click()
            metrics = page.locator("[data-test=metrics]")
            # Traditional Chinese by default: the schema's zh label, the value and its unit.
            heart = metrics.locator(".el-descriptions__cell", has_text="平均心率")
            expect(heart.first).to_be_visible()
            value = metrics.locator("[data-metric=avg_heart_rate]")
            expect(value).to_have_text("141")
            expect(value.locator("xpath=..")).to_contain_text("bpm")
            expect(metrics.locator("[data-metric=avg_watts]").locator("xpath=..")).to_contain_text("W")
            expect(metrics).to_contain_text("平均瓦數")
            # Without a schema: the raw key, marked as such.
            expect(metrics).to_contain_text("peak_stroke_force")
            expect(metrics.locator("[data-metric=peak_stroke_force]").locator("xpath=..")).to_contain_text(
                "沒有定義"
            )
            page.mouse.move(0, 0)
            page.screenshot(path=shots / "fitness-sessions.png", animations="disabled")

            page.locator("[data-test=language]").click()
            page.get_by_role("option", name="English").click()
            expect(metrics).to_contain_text("Average heart rate")
            expect(metrics).not_to_contain_text("平均心率")
            expect(metrics).to_contain_text("no schema")
            expect(row).to_contain_text("Free")

            # The users, searched by a part of the email.
            page.get_by_role("menuitem", name="Users").click()
            page.wait_for_url("**/admin/fitness/users")
            users = page.locator("[data-test=users] .el-table__body tr")
            expect(users).to_have_count(2)
            page.locator("[data-test=user-search]").fill("athlete")
            page.locator("[data-test=user-search]").press("Enter")
            expect(users).to_have_count(1)
            expect(users.first).to_contain_text("Demo Athlete")
            assert errors == []
        finally:
            browser.close()

    if os.environ.get("KEEL_CONSOLE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copyfile(shot, DOCS / shot.name)
