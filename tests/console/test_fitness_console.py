"""The fitness console in a real browser against `keel serve` on `keel seed --demo`'s data: the
demo athlete uploads a rower session through the API, the admin signs in through the page, opens
the sessions across users and expands the athlete's row: its `metrics_summary` is drawn through
`/meta/schemas` (labels in the page's language, units) and a key without a schema is shown raw.
Then the rest of the section: a session's curves drawn (a canvas) from its samples, a user's
detail with their stats, a training created and disabled, an app version published and probed.
KEEL_CONSOLE_SCREENSHOTS=1 writes the pages to docs/console/ for the README."""

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.serving import KeelServe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "console"
ADMIN = {"email": "admin@example.com", "password": "admin12345"}
ATHLETE = {"email": "athlete@example.com", "password": "password123"}
SIZE = {"width": 1280, "height": 800}


def _rower_session(fitness: str, **fields: object) -> str:
    """The athlete uploads a rower session through the API; its server id."""
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
        }
        | fields,
    )
    assert stored.status_code == 201, stored.text
    return stored.json()["id"]


def _sign_in(page, url: str) -> None:
    page.goto(url)
    page.wait_for_url(re.compile(r"/admin/fitness/sign-in\?next="))
    page.fill("input[name=email]", ADMIN["email"])
    page.fill("input[name=password]", ADMIN["password"])
    page.click("button[type=submit]")
    page.wait_for_url(url)


@contextmanager
def _console(chromium: str, shots: Path) -> Iterator[Any]:
    """A page in headless chromium; on leaving it, no page error was raised, and with
    KEEL_CONSOLE_SCREENSHOTS=1 the screenshots taken into `shots` go to docs/console/."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=SIZE)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert errors == []
        finally:
            browser.close()
    if os.environ.get("KEEL_CONSOLE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copyfile(shot, DOCS / shot.name)


def test_an_admin_expands_a_session_drawn_through_the_schema(
    server: KeelServe, chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    _rower_session(f"{server.url}/fitness")
    shots = tmp_path / "shots"
    with _console(chromium, shots) as page:
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

        # The athlete's seeded sessions are listed too: this one is the 4,850 m row.
        row = page.locator("[data-test=sessions] tr", has_text=ATHLETE["email"]).filter(has_text="4,850")
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


def _curved_session(fitness: str) -> str:
    """A rower session with a minute of samples, one key of them without a schema."""
    points = [
        {
            "t": float(t),
            "watts": 150.0 + (t % 20),
            "spm": 24.0,
            "heart_rate": 120 + t // 2,
            "stroke_force": 500 + t,
        }
        for t in range(0, 61)
    ]
    return _rower_session(
        fitness,
        client_session_id="console-rower-curves",
        start_time="2026-12-02T07:00:00Z",
        end_time="2026-12-02T07:01:00Z",
        duration_seconds=60,
        total_calories=12.5,
        total_distance_meters=3210,
        metrics_summary={"avg_watts": 160.0},
        time_series_data=points,
    )


def test_an_admin_reads_curves_and_stats_and_edits_trainings_and_versions(
    server: KeelServe, chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    fitness = f"{server.url}/fitness"
    session_id = _curved_session(fitness)
    admin = {
        "Authorization": f"Bearer {httpx.post(f'{fitness}/api/v1/auth/login', json=ADMIN).json()['access_token']}"
    }
    shots = tmp_path / "shots"
    with _console(chromium, shots) as page:
        _sign_in(page, f"{server.url}/admin/fitness/sessions")

        # The session's curves: its samples drawn on a canvas, the address naming it.
        row = page.locator("[data-test=sessions] tr", has_text="3,210")
        row.locator("[data-test=open-curves]").click()
        page.wait_for_url(f"**/admin/fitness/sessions?session={session_id}")
        drawer = page.locator("[data-test=session-detail]")
        expect(drawer).to_contain_text("Demo Athlete")
        expect(drawer).to_contain_text("61 個資料點")
        expect(drawer.locator("[data-metric=avg_watts]")).to_have_text("160")
        expect(drawer.locator("[data-test=curves-chart] canvas")).to_be_visible()
        drawer.locator(".el-drawer__close-btn").click()
        expect(drawer).to_be_hidden()
        page.wait_for_url("**/admin/fitness/sessions")

        # A user's detail: their stats counted from the sessions, per machine, and the latest.
        page.get_by_role("menuitem", name="使用者").click()
        page.locator("[data-test=users] tr", has_text="Demo Athlete").click()
        detail = page.locator("[data-test=user-detail]")
        athlete_id = int(re.search(r"user=(\d+)", page.url).group(1))
        activity = httpx.get(f"{fitness}/api/v1/admin/users/{athlete_id}", headers=admin).json()["activity"]
        assert activity["sessions"] == 5  # the four seeded, and this test's
        expect(detail.locator("[data-stat=sessions]")).to_contain_text("5")
        expect(detail.locator("[data-test=by-device] .el-table__body tr")).to_have_count(3)
        expect(detail.locator("[data-test=by-device]")).to_contain_text("划船機")
        expect(detail.locator("[data-test=recent-sessions] .el-table__body tr")).to_have_count(5)
        expect(detail.locator("[data-test=user-stats]")).to_contain_text("等級")
        page.wait_for_timeout(300)
        page.screenshot(path=shots / "fitness-users.png", animations="disabled")
        # A recent session (the seeded course on the rower) opens its curves over the user.
        detail.locator("[data-test=recent-sessions] .el-table__body tr").first.click()
        expect(drawer).to_contain_text("Rowing Intervals 20'")
        expect(drawer).to_contain_text("121 個資料點")
        expect(drawer.locator("[data-test=curves-chart] canvas")).to_be_visible()
        page.mouse.move(0, 0)
        page.wait_for_timeout(400)  # the drawer's slide ends
        page.screenshot(path=shots / "fitness-curves.png", animations="disabled")
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        expect(detail).to_be_hidden()

        # A training created (a bad script first: the page says so), then disabled.
        page.get_by_role("menuitem", name="課程").click()
        page.wait_for_url("**/admin/fitness/trainings")
        expect(page.locator("[data-test=trainings] .el-table__body tr")).to_have_count(4)
        page.locator("[data-test=new-training]").click()
        editor = page.locator("[data-test=training-editor]")
        editor.locator("input[name=title]").fill("Console Sprint")
        editor.get_by_text("划船機").click()
        editor.locator("input[name=cover_url]").fill("https://example.com/sprint.png")
        editor.locator("textarea[name=settings]").fill('{"segments": [')
        editor.locator("[data-test=save]").click()
        expect(editor.get_by_role("alert")).to_contain_text("不是有效的 JSON")
        editor.locator("textarea[name=settings]").fill('{"segments": [{"at": 0, "resistance": 5}]}')
        editor.locator("[data-test=save]").click()
        expect(editor).to_be_hidden()
        sprint = page.locator("[data-test=trainings] tr", has_text="Console Sprint")
        expect(sprint).to_contain_text("上架中")
        listed = httpx.get(f"{fitness}/api/v1/admin/trainings", headers=admin).json()["items"]
        [made] = [t for t in listed if t["title"] == "Console Sprint"]
        shown = httpx.get(f"{fitness}/api/v1/admin/trainings/{made['id']}", headers=admin).json()
        assert (shown["supported_devices"], shown["settings"]) == (
            ["rower"],
            {"segments": [{"at": 0, "resistance": 5}]},
        )
        sprint.locator("[data-test=disable-training]").click()
        page.locator(".el-message-box").get_by_role("button", name="停用").click()
        expect(sprint.locator("[data-test=training-state-tag]")).to_have_text("已停用")
        expect(sprint.locator("[data-test=enable-training]")).to_be_visible()
        assert httpx.get(f"{fitness}/api/v1/trainings/{made['id']}").status_code == 404
        page.mouse.move(0, 0)
        page.wait_for_timeout(300)
        page.screenshot(path=shots / "fitness-trainings.png", animations="disabled")

        # A new iOS version, its raised minimum confirmed; the gate tells an old app to update.
        page.get_by_role("menuitem", name="App 版本").click()
        page.wait_for_url("**/admin/fitness/versions")
        ios = page.locator("[data-platform=ios]")
        expect(ios.locator("[data-test=latest]")).to_have_text("1.4.0")
        ios.locator("[data-test=publish-ios]").click()
        dialog = page.locator("[data-test=version-editor]")
        dialog.locator("input[name=latest_version]").fill("1.5.0")
        dialog.locator("input[name=min_supported_version]").fill("1.3.0")
        dialog.locator("textarea[name=release_notes]").fill("Curves in the app")
        dialog.locator("[data-test=save]").click()
        page.locator(".el-message-box").get_by_role("button", name="發布").click()
        expect(ios.locator("[data-test=latest]")).to_have_text("1.5.0")
        expect(ios.locator("[data-test=minimum]")).to_have_text("1.3.0")
        gate = httpx.get(
            f"{fitness}/api/v1/meta/app_version", params={"platform": "ios", "version": "1.4.0"}
        ).json()
        assert (gate["update_available"], gate["force_update"], gate["release_notes"]) == (
            True,
            False,
            "Curves in the app",
        )
        ios.locator("[data-test=probe-ios]").fill("1.2.9")
        ios.locator("[data-test=probe-ios]").press("Enter")
        expect(ios.locator("[data-test=answer-ios]")).to_have_text("必須更新")
        expect(page.locator("[data-platform=android] [data-test=latest]")).to_have_text("1.4.0")
        page.mouse.move(0, 0)
        page.wait_for_timeout(300)
        page.screenshot(path=shots / "fitness-versions.png", animations="disabled")
