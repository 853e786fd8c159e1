"""The shop's console in a real browser (Debian's chromium through Playwright) against a real
`keel serve` on SQLite with `keel seed`'s demo data: the admin signs in through the page, ships
a paid order, and the API sees it shipped. Screenshots of the products and orders pages are
taken on the way; KEEL_CONSOLE_SCREENSHOTS=1 writes them to docs/console/ for the README."""

import os
import re
import shutil
from pathlib import Path

import httpx

from tests.serving import KeelServe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "console"
ADMIN = {"email": "admin@example.com", "password": "admin12345"}
SHOPPER = {"email": "user@example.com", "password": "password123"}
SIZE = {"width": 1280, "height": 800}


def _paid_order(shop: str) -> int:
    """The demo shopper buys two mugs and pays, through the API."""
    token = httpx.post(f"{shop}/api/auth/login", json=SHOPPER).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    mug = next(p for p in httpx.get(f"{shop}/api/products").json() if p["name"] == "Database Mug")
    order = httpx.post(
        f"{shop}/api/orders",
        headers=headers,
        json={
            "items": [{"product_id": mug["id"], "quantity": 2}],
            "shipping_address": {
                "recipient": "陳小美",
                "line1": "忠孝東路 100 號",
                "city": "台北",
                "country": "TW",
            },
            "payment_method": "card",
        },
    )
    assert order.status_code == 201, order.text
    paid = httpx.post(f"{shop}/api/orders/{order.json()['id']}/pay", headers=headers)
    assert paid.json()["status"] == "paid", paid.text
    return order.json()["id"]


def test_an_admin_signs_in_and_ships_a_paid_order(server: KeelServe, chromium: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)

    shop = f"{server.url}/shop"
    order_id = _paid_order(shop)
    shots = tmp_path / "shots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=SIZE)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # A bookmarked page asks for the sign-in, then comes back to it.
            page.goto(f"{server.url}/admin/shop/products")
            page.wait_for_url(re.compile(r"/admin/shop/sign-in\?next=/shop/products$"))
            page.fill("input[name=email]", ADMIN["email"])
            page.fill("input[name=password]", "wrong-password")
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password")
            page.fill("input[name=password]", ADMIN["password"])
            page.click("button[type=submit]")
            page.wait_for_url("**/admin/shop/products")
            products = page.locator("[data-test=products]")
            expect(products).to_contain_text("Mechanical Keyboard")
            # Traditional Chinese is the shop's language; the mugs sold are out of stock.
            expect(page.get_by_role("menuitem", name="訂單")).to_be_visible()
            expect(products.locator("tr", has_text="Database Mug")).to_contain_text("148")
            page.screenshot(path=shots / "products.png", animations="disabled")

            page.get_by_role("menuitem", name="訂單").click()
            page.wait_for_url("**/admin/shop/orders")
            row = page.locator("[data-test=orders] tr", has_text=str(order_id))
            expect(row).to_contain_text("已付款")
            row.click()
            detail = page.locator("[data-test=order-detail]")
            expect(detail).to_contain_text("陳小美")
            # Who bought it, from the admin's GET /api/users/{id}.
            expect(detail.locator("[data-test=customer]")).to_contain_text("user@example.com")
            detail.locator("[data-test=ship]").click()
            expect(detail).to_contain_text("已出貨")
            expect(detail.locator("[data-test=deliver]")).to_be_visible()
            expect(row).to_contain_text("已出貨")
            # The picture without the pointer's hover and the passing toast over the drawer's title.
            page.mouse.move(0, 0)
            page.screenshot(
                path=shots / "orders.png", animations="disabled", style=".el-message { display: none }"
            )
            page.keyboard.press("Escape")
            expect(detail).to_be_hidden()

            # English by the switch, kept for the next page.
            page.locator("[data-test=language]").click()
            page.get_by_role("option", name="English").click()
            expect(page.get_by_role("menuitem", name="Orders")).to_be_visible()
            expect(row).to_contain_text("Shipped")

            # The shipped mugs lead the bestsellers, drawn by ECharts (loaded with the page).
            page.get_by_role("menuitem", name="Bestsellers").click()
            page.wait_for_url("**/admin/shop/bestsellers")
            expect(page.locator("[data-test=bestsellers-chart] canvas")).to_be_visible()
            leader = page.locator(".el-table__body tr").first.locator("td")
            expect(leader.nth(1)).to_have_text("Database Mug")
            expect(leader.nth(2)).to_have_text("2")

            # The landing page lists the sections this server has; the session is kept.
            page.get_by_role("link", name="keel console").click()
            page.wait_for_url(re.compile(r"/admin/$"))
            page.locator(".card", has_text="/shop").get_by_role("link", name="Open").click()
            page.wait_for_url("**/admin/shop/products")
            assert errors == []
        finally:
            browser.close()

    admin = httpx.post(f"{shop}/api/auth/login", json=ADMIN).json()["access_token"]
    order = httpx.get(f"{shop}/api/orders/{order_id}", headers={"Authorization": f"Bearer {admin}"}).json()
    assert order["status"] == "shipped" and order["shipped_at"] is not None
    if os.environ.get("KEEL_CONSOLE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copyfile(shot, DOCS / shot.name)
