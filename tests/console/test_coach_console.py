"""The coach console in a real browser against `keel serve` on `keel seed --demo`'s data: the demo
user is refused (not an admin, from GET /me), the admin signs in through the page, searches the
demo user and opens their detail (records per dimension, AI usage), then filters the AI tasks by
status `failed` and opens the demo's failed plan to read its error; the page's count is the API's.
KEEL_CONSOLE_SCREENSHOTS=1 writes both pages to docs/console/ for the README."""

import os
import re
import shutil
from pathlib import Path

import httpx

from tests.serving import KeelServe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "console"
ADMIN = {"email": "admin@example.com", "password": "admin12345"}
USER = {"email": "coach@example.com", "password": "password123"}
SIZE = {"width": 1280, "height": 800}


def _failed_tasks(coach: str) -> int:
    token = httpx.post(f"{coach}/api/v1/auth/login", json=ADMIN).json()["access_token"]
    listed = httpx.get(
        f"{coach}/api/v1/admin/ai/tasks",
        params={"status": "failed"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listed.status_code == 200, listed.text
    return int(listed.json()["total"])


def test_support_finds_a_user_and_reads_a_failed_ai_tasks_error(
    server: KeelServe, chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    shots = tmp_path / "shots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=SIZE)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/admin/coach/users")
            page.wait_for_url(re.compile(r"/admin/coach/sign-in\?next=/coach/users$"))
            # coach's login answers tokens only: whether one is an admin comes from GET /me.
            page.fill("input[name=email]", USER["email"])
            page.fill("input[name=password]", USER["password"])
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("这个账号不是管理员")
            page.fill("input[name=email]", ADMIN["email"])
            page.fill("input[name=password]", ADMIN["password"])
            page.click("button[type=submit]")
            page.wait_for_url("**/admin/coach/users")

            # Simplified Chinese, coach's own language; the search is kept in the address.
            users = page.locator("[data-test=users] .el-table__body tr")
            expect(users).to_have_count(2)
            page.locator("[data-test=user-search]").fill("COACH@")
            page.locator("[data-test=user-search]").press("Enter")
            expect(users).to_have_count(1)
            expect(users.first).to_contain_text("Demo Coachee")
            users.first.click()
            detail = page.locator("[data-test=user-detail]")
            expect(detail.locator("[data-test=detail-email]")).to_have_text(USER["email"])
            expect(detail.locator("[data-test=records] [data-dimension=meal]")).to_have_text("42")
            expect(detail.locator("[data-test=usage]")).to_contain_text("今天（UTC）已用 3 / 50")
            recent = detail.locator("[data-test=recent-tasks] .el-table__body tr")
            expect(recent).to_have_count(3)
            expect(detail.locator("[data-test=recent-tasks]")).to_contain_text("TimeoutError")
            assert re.search(r"/admin/coach/users\?q=COACH(@|%40)&user=\d+$", page.url), page.url
            page.mouse.move(0, 0)
            page.screenshot(path=shots / "coach-users.png", animations="disabled")
            detail.locator(".el-drawer__close-btn").click()
            expect(detail.locator("[data-test=detail-email]")).to_be_hidden()

            page.get_by_role("menuitem", name="AI 任务").click()
            page.wait_for_url("**/admin/coach/ai-tasks")
            tasks = page.locator("[data-test=tasks] .el-table__body tr")
            expect(tasks).to_have_count(3)
            expect(tasks.filter(has_text="gpt-4o-mini")).to_contain_text("412 / 168")
            page.mouse.move(0, 0)
            page.screenshot(path=shots / "coach-ai-tasks.png", animations="disabled")
            page.locator("[data-test=status]").click()
            page.get_by_role("option", name="失败").click()
            expect(tasks).to_have_count(_failed_tasks(f"{server.url}/coach"))
            page.wait_for_url("**/admin/coach/ai-tasks?status=failed")
            failed = tasks.filter(has_text="Demo Coachee")
            expect(failed).to_contain_text("明日计划")
            failed.click()
            task = page.locator("[data-test=task-detail]")
            expect(task.locator("[data-test=task-error]")).to_contain_text(
                "TimeoutError: the AI writer did not answer within the job's time limit"
            )
            expect(task.locator("[data-test=task-input]")).to_contain_text('"date"')
            assert re.search(r"ai-tasks\?status=failed&task=[0-9a-f-]{36}$", page.url), page.url

            # The address is a bookmark: a reload signs out (tokens live in memory only), and
            # signing in again comes back to the same filter and task.
            page.reload()
            page.wait_for_url(re.compile(r"/admin/coach/sign-in\?next="))
            page.fill("input[name=email]", ADMIN["email"])
            page.fill("input[name=password]", ADMIN["password"])
            page.click("button[type=submit]")
            expect(task.locator("[data-test=task-error]")).to_contain_text("TimeoutError")
            expect(tasks).to_have_count(_failed_tasks(f"{server.url}/coach"))

            # A succeeded task's detail withholds what the model wrote for the user (in English).
            task.locator(".el-drawer__close-btn").click()
            page.locator("[data-test=status]").click()
            page.get_by_role("option", name="成功").click()
            page.locator("[data-test=language]").click()
            page.get_by_role("option", name="English").click()
            tasks.filter(has_text="Night review").click()
            expect(task.locator("[data-test=task-result]")).to_contain_text("gpt-4o-mini")
            expect(task.locator("[data-test=withheld]")).to_contain_text("For privacy")
            expect(task.locator("[data-test=withheld]")).to_contain_text("summary")
            expect(task).not_to_contain_text("A steady day")
            assert errors == []
        finally:
            browser.close()

    if os.environ.get("KEEL_CONSOLE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copyfile(shot, DOCS / shot.name)
