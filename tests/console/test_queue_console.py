"""The queue's counter in a real browser (Debian's chromium through Playwright) against a real
`keel serve` on SQLite with `keel seed --demo`'s data: a customer is refused at the sign-in, the
store's owner signs in through the page, a customer who books through the API appears on the
board without a reload (over the WebSocket), the owner calls the next one and completes them
(the API sees the booking serving, then completed), and answers a chat, whose customer's next
message arrives live. KEEL_CONSOLE_SCREENSHOTS=1 writes the board and the chats to docs/console/."""

import os
import re
import shutil
from pathlib import Path
from typing import Any

import httpx

from tests.serving import KeelServe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "console"
OWNER = {"email": "owner@example.com", "password": "password123"}
FIRST = {"email": "user@example.com", "password": "password123"}
SIZE = {"width": 1280, "height": 800}


def _headers(queue: str, who: dict[str, str]) -> dict[str, str]:
    token = httpx.post(f"{queue}/auth/login", json=who).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _booking(queue: str, headers: dict[str, str], booking_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{queue}/bookings/{booking_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_owner_runs_the_line_and_answers_a_chat(server: KeelServe, chromium: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    queue = f"{server.url}/queue"
    first = _headers(queue, FIRST)
    # 張小明 waits as number 1 at the demo store, with a short chat.
    (number_one,) = httpx.get(f"{queue}/bookings/my-bookings", headers=first).json()["bookings"]
    store_id = number_one["store"]["id"]
    shots = tmp_path / "shots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=SIZE)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/admin/queue/board")
            page.wait_for_url(re.compile(r"/admin/queue/sign-in\?next=/queue/board$"))
            # A customer runs no store: refused, in the section's language.
            page.fill("input[name=email]", FIRST["email"])
            page.fill("input[name=password]", FIRST["password"])
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("沒有經營任何店家")
            page.fill("input[name=email]", OWNER["email"])
            page.fill("input[name=password]", OWNER["password"])
            page.click("button[type=submit]")
            page.wait_for_url("**/admin/queue/board")

            waiting = page.locator("[data-test=waiting]")
            expect(waiting.locator("[data-test=waiting-1]")).to_contain_text("張小明")
            expect(waiting.locator("[data-test=waiting-3]")).to_contain_text("Ben")
            expect(page.locator("[data-test=waiting-count]")).to_have_text("3 人等候中")
            expect(page.locator("[data-test=live]")).to_have_text("即時")

            # A new customer books through the API: the board shows them without a reload.
            joined = httpx.post(
                f"{queue}/auth/register",
                json={"email": "carol@example.com", "password": "password123", "name": "陳小美"},
            ).json()
            carol = {"Authorization": f"Bearer {joined['token']}"}
            booked = httpx.post(f"{queue}/bookings", json={"store_id": store_id}, headers=carol)
            assert booked.status_code == 201, booked.text
            expect(waiting.locator("[data-test=waiting-4]")).to_contain_text("陳小美")
            expect(page.locator("[data-test=waiting-count]")).to_have_text("4 人等候中")

            page.locator("[data-test=call-next]").click()
            serving = page.locator("[data-test=serving] [data-test=serving-1]")
            expect(serving).to_contain_text("張小明")
            expect(waiting.locator("[data-test=waiting-1]")).to_have_count(0)
            assert _booking(queue, first, number_one["id"])["status"] == "serving"
            page.mouse.move(0, 0)
            page.screenshot(
                path=shots / "queue-board.png", animations="disabled", style=".el-message { display: none }"
            )
            serving.locator("[data-test=complete]").click()
            expect(serving).to_have_count(0)
            assert _booking(queue, first, number_one["id"])["status"] == "completed"

            # The chats: the seeded conversation, answered from the page.
            page.get_by_role("menuitem", name="顧客對話").click()
            page.wait_for_url("**/admin/queue/chats")
            page.locator(f"[data-test=chat-{number_one['id']}]").click()
            messages = page.locator("[data-test=messages]")
            expect(messages).to_contain_text("請問還需要等多久呢?")
            page.fill("[data-test=reply]", "已經輪到您了,謝謝!")
            page.locator("[data-test=send]").click()
            expect(messages).to_contain_text("已經輪到您了,謝謝!")
            expect(page.locator("[data-test=reply]")).to_have_value("")
            # The customer's answer arrives over the socket.
            sent = httpx.post(
                f"{queue}/chats/{number_one['id']}/messages", json={"content": "好的,馬上到"}, headers=first
            )
            assert sent.status_code == 201, sent.text
            expect(messages).to_contain_text("好的,馬上到")
            page.mouse.move(0, 0)
            page.screenshot(
                path=shots / "queue-chats.png", animations="disabled", style=".el-message { display: none }"
            )
            assert errors == []
        finally:
            browser.close()

    read = httpx.get(f"{queue}/chats/{number_one['id']}/messages", headers=first).json()["messages"]
    assert [(m["sender"]["name"], m["content"]) for m in read][-2:] == [
        ("阿明理髮店", "已經輪到您了,謝謝!"),
        ("張小明", "好的,馬上到"),
    ]
    if os.environ.get("KEEL_CONSOLE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copyfile(shot, DOCS / shot.name)
