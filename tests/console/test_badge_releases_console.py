"""The badge section's releases area in a real browser (Debian's chromium through Playwright)
against a real `keel serve` on SQLite with `keel seed`'s demo data: the admin signs in through
the page, publishes a version uploading a firmware file, starts a rollout in waves, pauses and
resumes it (the API sees it paused, then active), then edits a config and rolls it back from its
history. KEEL_CONSOLE_SCREENSHOTS=1 writes the screenshots to docs/console/ for the README."""

import hashlib
import os
import re
import shutil
from pathlib import Path

import httpx

from tests.serving import KeelServe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "console"
ADMIN = {"email": "admin@example.com", "password": "admin12345"}
SIZE = {"width": 1280, "height": 800}
FIRMWARE = b"\x7fLUNA" + bytes(range(256)) * 16


def _admin(badge: str) -> dict[str, str]:
    token = httpx.post(f"{badge}/api/v1/auth/login", json=ADMIN).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_an_admin_publishes_rolls_out_pauses_and_rolls_a_config_back(
    server: KeelServe, chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)

    badge = f"{server.url}/badge"
    shots = tmp_path / "shots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=SIZE)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/admin/badge/versions")
            page.wait_for_url(re.compile(r"/admin/badge/sign-in\?next=/badge/versions$"))
            page.fill("input[name=email]", ADMIN["email"])
            page.fill("input[name=password]", ADMIN["password"])
            page.click("button[type=submit]")
            page.wait_for_url("**/admin/badge/versions")
            versions = page.locator("[data-test=versions]")
            # Simplified Chinese is badge's language.
            expect(versions.locator("tr", has_text="1.2.0")).to_contain_text("测试版")

            # Publish 1.3.0 with its firmware, reaching no badge yet.
            page.locator("[data-test=publish]").click()
            dialog = page.locator("[data-test=publish-dialog]")
            dialog.locator("input[name=version_number]").fill("1.3.0")
            dialog.locator("textarea[name=release_notes]").fill("更快的唤醒。")
            dialog.locator("input[type=file]").set_input_files(
                {"name": "luna-1.3.0.bin", "mimeType": "application/octet-stream", "buffer": FIRMWARE}
            )
            expect(dialog).to_contain_text("luna-1.3.0.bin")
            dialog.locator("[data-test=publish-save]").click()
            detail = page.locator("[data-test=rollout-detail]")
            expect(detail).to_contain_text("版本 1.3.0")
            expect(detail).to_contain_text(hashlib.sha256(FIRMWARE).hexdigest())

            # A rollout in the dialog's waves (10 %, 50 %, then 100 %) that stops on failures.
            detail.locator("[data-test=new-rollout]").click()
            rollout = page.locator("[data-test=rollout-dialog]")
            expect(rollout.locator("[data-test=wave-1]")).to_be_visible()
            rollout.locator("[data-test=guarded]").click()
            rollout.locator("[data-test=rollout-start]").click()
            expect(rollout).to_be_hidden()
            status = detail.locator("[data-test=rollout-status]")
            expect(status).to_have_text("进行中")
            expect(detail.locator("[data-test=stages]")).to_contain_text("50%")
            # luna_badge_001's bucket for 1.3.0 is below the first wave's 10 %.
            expect(detail.locator("[data-test=count-queued]")).to_have_text("1")
            expect(detail.locator("[data-test=deployments]")).to_contain_text("luna_badge_001")
            page.mouse.move(0, 0)
            page.screenshot(
                path=shots / "badge-rollout.png", animations="disabled", style=".el-message { display: none }"
            )

            detail.locator("[data-test=pause]").click()
            expect(status).to_have_text("已暂停")
            headers = _admin(badge)
            listed = httpx.get(f"{badge}/api/v1/versions", headers=headers).json()
            published = next(v for v in listed if v["version_number"] == "1.3.0")
            assert published["rollout_status"] == "paused"
            assert published["rollout_percentage"] == 10 and published["failure_threshold_percent"] == 10
            assert published["file_size"] == len(FIRMWARE)
            detail.locator("[data-test=resume]").click()
            expect(status).to_have_text("进行中")
            version = httpx.get(f"{badge}/api/v1/versions/{published['id']}", headers=headers).json()
            assert version["rollout_status"] == "active"
            page.keyboard.press("Escape")
            expect(detail).to_be_hidden()
            expect(versions.locator("tr", has_text="1.3.0")).to_contain_text("进行中")
            page.mouse.move(0, 0)
            page.screenshot(
                path=shots / "badge-versions.png",
                animations="disabled",
                style=".el-message { display: none }",
            )

            # The config centre: a global key edited, then rolled back from its history.
            page.get_by_role("menuitem", name="配置中心").click()
            page.wait_for_url("**/admin/badge/configs")
            configs = page.locator("[data-test=configs]")
            row = configs.locator("tr", has_text="heartbeat_interval")
            expect(row.locator("[data-test=value]")).to_have_text("30")
            expect(configs.locator("tr", has_text="detection_interval")).to_contain_text("yolo")
            row.locator("[data-test=edit-heartbeat_interval]").click()
            editor = page.locator("[data-test=config-editor]")
            editor.locator("input[name=config_value]").fill("60")
            editor.locator("[data-test=config-save]").click()
            expect(editor).to_be_hidden()
            expect(row.locator("[data-test=value]")).to_have_text("60")
            row.locator("[data-test=history-heartbeat_interval]").click()
            history = page.locator("[data-test=config-history]")
            expect(history.locator("[data-test=history] tbody tr")).to_have_count(2)
            history.locator("[data-test=rollback-1]").click()
            page.locator(".el-message-box").get_by_role("button", name="回滚到此版本").click()
            expect(history.locator("[data-test=history] tbody tr")).to_have_count(3)
            page.keyboard.press("Escape")
            expect(history).to_be_hidden()
            expect(row.locator("[data-test=value]")).to_have_text("30")
            page.mouse.move(0, 0)
            page.screenshot(
                path=shots / "badge-configs.png", animations="disabled", style=".el-message { display: none }"
            )
            assert errors == []
        finally:
            browser.close()

    keys = httpx.get(f"{badge}/api/v1/configs", headers=_admin(badge)).json()
    heartbeat = next(c for c in keys if c["config_key"] == "heartbeat_interval" and c["device_id"] is None)
    assert (heartbeat["config_value"], heartbeat["version"]) == ("30", "3")
    if os.environ.get("KEEL_CONSOLE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copyfile(shot, DOCS / shot.name)
