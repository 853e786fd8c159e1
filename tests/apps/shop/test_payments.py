"""Payment as states (issue 13 item 3): the provider approves, refuses (402, still payable) or
does not answer (503, not paid); a pay while one is in flight is 409; a paid order cancelled is
refunded; a custom provider is loaded from KEEL_SHOP_PAYMENT_PROVIDER."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import update

from keel.apps.shop import UNPAID_ORDERS_SWEEP
from keel.apps.shop.models import Order
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.shop import builders, payment_providers
from tests.apps.shop.builders import Account
from tests.apps.shop.test_orders import stock_of

GATED = "tests.apps.shop.payment_providers:gated"


@pytest.fixture
async def gated_shop(
    shop: httpx.AsyncClient, shop_database: Database, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    payment_providers.current = payment_providers.Gated()
    async with builders.shop_with(shop_database, settings, shop_payment_provider=GATED) as client:
        yield client


async def _pay(
    client: httpx.AsyncClient, buyer: Account, order_id: int, method: str | None = None
) -> httpx.Response:
    body = {"payment_method": method} if method else None
    return await client.post(f"/api/orders/{order_id}/pay", json=body, headers=buyer.headers)


async def _order(
    client: httpx.AsyncClient, admin: Account, buyer: Account, quantity: int = 2
) -> tuple[dict, dict]:
    product = await builders.product(client, admin, price="12.50", stock=10)
    created = await builders.order(client, buyer, (product["id"], quantity))
    assert created.status_code == 201, created.text
    return product, created.json()


async def test_an_approved_payment_marks_the_order_paid_with_the_provider_reference(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    _, order = await _order(shop, admin, buyer)
    other = await builders.account(shop)
    # Only the buyer pays: anyone else, an admin too, sees no such order.
    assert (await _pay(shop, other, order["id"])).status_code == 404
    assert (await _pay(shop, admin, order["id"])).status_code == 404
    paid = await _pay(shop, buyer, order["id"], "line_pay")
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert (body["status"], body["payment_method"], body["payment_error"]) == ("paid", "line_pay", None)
    assert body["paid_at"] is not None
    assert body["payment_reference"].startswith("sim_")
    assert (await _pay(shop, buyer, order["id"])).status_code == 409


async def test_a_refused_payment_is_402_and_the_order_stays_payable(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    product, order = await _order(shop, admin, buyer)
    refused = await _pay(shop, buyer, order["id"], "declined")
    assert refused.status_code == 402
    assert "Card declined" in refused.json()["detail"]
    after = (await shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert (after["status"], after["paid_at"], after["payment_reference"]) == ("pending_payment", None, None)
    assert "Card declined" in after["payment_error"]
    assert await stock_of(shop, product["id"]) == 8
    # Another card, a new charge: approved, and the refusal is cleared.
    paid = await _pay(shop, buyer, order["id"], "card")
    assert paid.status_code == 200
    assert (paid.json()["status"], paid.json()["payment_error"]) == ("paid", None)


async def test_a_provider_that_does_not_answer_is_503_and_nothing_is_paid(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    _, order = await _order(shop, admin, buyer)
    down = await _pay(shop, buyer, order["id"], "provider_unavailable")
    assert down.status_code == 503
    assert "not paid" in down.json()["detail"]
    after = (await shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert (after["status"], after["paid_at"], after["payment_reference"]) == ("pending_payment", None, None)
    assert "did not answer" in after["payment_error"]
    # The money may have been taken: no cancel (and no refund owed unrecorded) until it is known.
    cancel = await shop.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancel.status_code == 409
    assert "not confirmed" in cancel.json()["detail"]
    # The retry repeats the unanswered charge's reference; this time the provider answers.
    assert (await _pay(shop, buyer, order["id"], "card")).json()["status"] == "paid"


async def test_a_pay_while_one_is_in_flight_is_409_and_the_custom_provider_decides(
    gated_shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    provider = payment_providers.current
    _, order = await _order(gated_shop, admin, buyer)
    first = asyncio.create_task(_pay(gated_shop, buyer, order["id"]))
    await provider.entered.wait()
    again = await _pay(gated_shop, buyer, order["id"])
    assert again.status_code == 409
    assert "already in progress" in again.json()["detail"]
    cancel = await gated_shop.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancel.status_code == 409
    seen = (await gated_shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert seen["status"] == "paying"
    provider.gate.set()
    paid = await first
    assert paid.status_code == 200, paid.text
    [reference] = provider.charges
    assert paid.json()["payment_reference"] == f"gated-{reference}"
    # The order's method from checkout was charged.
    assert paid.json()["payment_method"] == "card"


async def test_an_order_being_paid_counts_toward_the_buyers_unpaid_limit(
    gated_shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    provider = payment_providers.current
    product = await builders.product(gated_shop, admin, stock=100)
    placed = [await builders.order(gated_shop, buyer, (product["id"], 1)) for _ in range(5)]
    assert [response.status_code for response in placed] == [201] * 5
    paying = asyncio.create_task(_pay(gated_shop, buyer, placed[0].json()["id"]))
    await provider.entered.wait()
    sixth = await builders.order(gated_shop, buyer, (product["id"], 1))
    assert sixth.status_code == 409
    assert "unpaid orders" in sixth.json()["detail"]
    provider.gate.set()
    assert (await paying).status_code == 200
    # Paid, it holds nothing unpaid any more.
    assert (await builders.order(gated_shop, buyer, (product["id"], 1))).status_code == 201


async def test_cancelling_a_paid_order_refunds_it_and_returns_the_stock_once(
    gated_shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    provider = payment_providers.current
    provider.gate.set()
    product, order = await _order(gated_shop, admin, buyer, quantity=3)
    paid = (await _pay(gated_shop, buyer, order["id"])).json()
    cancelled = await gated_shop.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["cancel_reason"], body["refund_amount"]) == ("cancelled", "buyer", 37.5)
    assert body["refunded_at"] is not None and body["cancelled_at"] is not None
    assert provider.refunds == [
        (paid["payment_reference"], Decimal("37.50"), f"shop-order-{order['id']}-refund")
    ]
    assert await stock_of(gated_shop, product["id"]) == 10
    assert (
        await gated_shop.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    ).status_code == 409
    assert await stock_of(gated_shop, product["id"]) == 10
    assert len(provider.refunds) == 1


async def test_an_admin_cancels_any_order_and_an_unpaid_one_owes_no_refund(
    gated_shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    product, order = await _order(gated_shop, admin, buyer)
    other = await builders.account(gated_shop)
    assert (
        await gated_shop.post(f"/api/orders/{order['id']}/cancel", headers=other.headers)
    ).status_code == 404
    cancelled = await gated_shop.post(f"/api/orders/{order['id']}/cancel", headers=admin.headers)
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert (body["cancel_reason"], body["refunded_at"], body["refund_amount"]) == ("admin", None, None)
    assert payment_providers.current.refunds == []
    assert await stock_of(gated_shop, product["id"]) == 10


async def test_a_refund_the_provider_did_not_answer_is_retried_by_the_sweep(
    gated_shop: httpx.AsyncClient, shop_database: Database, settings: Settings, admin: Account, buyer: Account
) -> None:
    provider = payment_providers.current
    provider.gate.set()
    _, order = await _order(gated_shop, admin, buyer)
    await _pay(gated_shop, buyer, order["id"])
    provider.refund_fails = True
    cancelled = (await gated_shop.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)).json()
    assert (cancelled["status"], cancelled["refunded_at"]) == ("cancelled", None)
    provider.refund_fails = False
    swept = settings.model_copy(update={"shop_payment_provider": GATED})
    for _ in range(2):
        await UNPAID_ORDERS_SWEEP.run(shop_database, swept)
    after = (await gated_shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert after["refunded_at"] is not None and after["refund_amount"] == 25.0
    assert len(provider.refunds) == 1


async def test_a_payment_whose_process_died_mid_call_is_resolved_by_the_sweep(
    gated_shop: httpx.AsyncClient, shop_database: Database, settings: Settings, admin: Account, buyer: Account
) -> None:
    provider = payment_providers.current
    _, order = await _order(gated_shop, admin, buyer)
    dying = asyncio.create_task(_pay(gated_shop, buyer, order["id"]))
    await provider.entered.wait()
    dying.cancel()  # the request ends with the provider's answer never recorded, as in a crash
    with pytest.raises(asyncio.CancelledError):
        await dying
    assert (await gated_shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()[
        "status"
    ] == "paying"
    swept = settings.model_copy(update={"shop_payment_provider": GATED})
    await UNPAID_ORDERS_SWEEP.run(shop_database, swept)  # too recent: maybe still in flight
    assert len(provider.charges) == 1
    async with shop_database.sessionmaker() as session:
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        await session.execute(update(Order).where(Order.id == order["id"]).values(updated_at=long_ago))
        await session.commit()
    provider.gate.set()
    await UNPAID_ORDERS_SWEEP.run(shop_database, swept)
    # Asked again under the same reference, so a charge that went through is not taken twice.
    first, second = provider.charges
    assert first == second
    after = (await gated_shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert (after["status"], after["payment_reference"]) == ("paid", f"gated-{first}")


async def test_a_lapsed_order_with_an_unanswered_charge_is_asked_about_before_it_expires(
    gated_shop: httpx.AsyncClient, shop_database: Database, settings: Settings, admin: Account, buyer: Account
) -> None:
    provider = payment_providers.current
    provider.gate.set()
    provider.charges_fail = True
    product, order = await _order(gated_shop, admin, buyer)
    assert (await _pay(gated_shop, buyer, order["id"])).status_code == 503
    async with shop_database.sessionmaker() as session:
        past = datetime.now(UTC) - timedelta(minutes=1)
        await session.execute(update(Order).where(Order.id == order["id"]).values(expires_at=past))
        await session.commit()
    swept = settings.model_copy(update={"shop_payment_provider": GATED})
    # Still no answer: the money may have been taken, so the stock stays held.
    await UNPAID_ORDERS_SWEEP.run(shop_database, swept)
    assert (await gated_shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()["status"] == (
        "pending_payment"
    )
    assert await stock_of(gated_shop, product["id"]) == 8
    # The provider answers the same charge: it went through, and the order is paid, not expired.
    provider.charges_fail = False
    await UNPAID_ORDERS_SWEEP.run(shop_database, swept)
    assert len(set(provider.charges)) == 1 and len(provider.charges) == 3
    after = (await gated_shop.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert (after["status"], after["cancel_reason"]) == ("paid", None)
    assert await stock_of(gated_shop, product["id"]) == 8
