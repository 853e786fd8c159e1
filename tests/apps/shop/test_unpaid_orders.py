"""Reservations that expire (issue 13 item 2): an order still pending_payment past its
`expires_at` cannot be paid, and the `unpaid_orders` sweep cancels it and returns its stock
exactly once; paid orders are left alone."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from keel.apps.shop import UNPAID_ORDERS_SWEEP, app
from keel.apps.shop.models import Order
from keel.apps.shop.services import reservations
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.shop import builders
from tests.apps.shop.builders import Account
from tests.apps.shop.test_orders import stock_of

# A fraction of a minute (60 microseconds): every order has expired by the time its answer is read.
MOMENT = 0.000001


@pytest.fixture
async def fleeting(
    shop: httpx.AsyncClient, shop_database: Database, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    async with builders.shop_with(shop_database, settings, shop_unpaid_order_minutes=MOMENT) as client:
        yield client


async def _get(client: httpx.AsyncClient, buyer: Account, order_id: int) -> dict:
    return (await client.get(f"/api/orders/{order_id}", headers=buyer.headers)).json()


async def test_the_sweep_is_registered_with_its_interval_from_the_settings(settings: Settings) -> None:
    assert UNPAID_ORDERS_SWEEP in app.sweeps
    assert UNPAID_ORDERS_SWEEP.interval(settings.model_copy(update={"shop_unpaid_sweep_seconds": 7.5})) == 7.5


async def test_an_expired_order_cannot_be_paid_even_before_the_sweep(
    fleeting: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    product = await builders.product(fleeting, admin, stock=10)
    order = (await builders.order(fleeting, buyer, (product["id"], 3))).json()
    created, expires = (datetime.fromisoformat(order[key]) for key in ("created_at", "expires_at"))
    assert timedelta(0) < expires - created < timedelta(seconds=1)
    paying = await fleeting.post(f"/api/orders/{order['id']}/pay", headers=buyer.headers)
    assert paying.status_code == 409
    assert "expired" in paying.json()["detail"]
    after = await _get(fleeting, buyer, order["id"])
    assert (after["status"], after["paid_at"], after["payment_reference"]) == ("pending_payment", None, None)
    assert await stock_of(fleeting, product["id"]) == 7


async def test_the_sweep_cancels_expired_orders_and_returns_their_stock_once(
    fleeting: httpx.AsyncClient, shop_database: Database, settings: Settings, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(fleeting, admin, stock=10)
    mug = await builders.product(fleeting, admin, stock=10)
    ids = [
        (await builders.order(fleeting, buyer, (tee["id"], 2), (mug["id"], 1))).json()["id"] for _ in range(3)
    ]
    assert (await stock_of(fleeting, tee["id"]), await stock_of(fleeting, mug["id"])) == (4, 7)
    # Two sweeps at once, as two processes whose runs overlap: each order is cancelled by one.
    await asyncio.gather(*(UNPAID_ORDERS_SWEEP.run(shop_database, settings) for _ in range(2)))
    await UNPAID_ORDERS_SWEEP.run(shop_database, settings)
    for order_id in ids:
        order = await _get(fleeting, buyer, order_id)
        assert (order["status"], order["cancel_reason"]) == ("cancelled", "expired")
        assert order["cancelled_at"] is not None and order["refunded_at"] is None
    assert (await stock_of(fleeting, tee["id"]), await stock_of(fleeting, mug["id"])) == (10, 10)
    # Already cancelled: the buyer's cancel is refused and gives nothing back again.
    assert (await fleeting.post(f"/api/orders/{ids[0]}/cancel", headers=buyer.headers)).status_code == 409
    assert await stock_of(fleeting, tee["id"]) == 10


async def test_a_run_cancels_a_bounded_batch_and_the_next_run_the_rest(
    fleeting: httpx.AsyncClient, shop_database: Database, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(fleeting, admin, stock=10)
    ids = [(await builders.order(fleeting, buyer, (tee["id"], 1))).json()["id"] for _ in range(3)]
    assert await reservations.expire_unpaid(shop_database, batch=2, batches=1) == 2
    statuses = [(await _get(fleeting, buyer, order_id))["status"] for order_id in ids]
    assert sorted(statuses) == ["cancelled", "cancelled", "pending_payment"]
    assert await stock_of(fleeting, tee["id"]) == 9
    assert await reservations.expire_unpaid(shop_database, batch=2, batches=1) == 1
    assert await stock_of(fleeting, tee["id"]) == 10


async def test_paid_and_unexpired_orders_are_untouched(
    shop: httpx.AsyncClient, shop_database: Database, settings: Settings, admin: Account, buyer: Account
) -> None:
    tee = await builders.product(shop, admin, stock=10)
    paid, lapsed, fresh = [(await builders.order(shop, buyer, (tee["id"], 2))).json()["id"] for _ in range(3)]
    assert (await shop.post(f"/api/orders/{paid}/pay", headers=buyer.headers)).status_code == 200
    # The paid order's hold and one unpaid order's have passed; the third is still held.
    async with shop_database.sessionmaker() as session:
        past = datetime.now(UTC) - timedelta(minutes=1)
        await session.execute(update(Order).where(Order.id.in_([paid, lapsed])).values(expires_at=past))
        await session.commit()
    await UNPAID_ORDERS_SWEEP.run(shop_database, settings)
    assert (await _get(shop, buyer, paid))["status"] == "paid"
    assert (await _get(shop, buyer, lapsed))["status"] == "cancelled"
    assert (await _get(shop, buyer, fresh))["status"] == "pending_payment"
    assert await stock_of(shop, tee["id"]) == 6
