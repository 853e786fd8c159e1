"""Stock held by unpaid orders: given back when an order is cancelled, and when an order still
pending_payment reaches its `expires_at` (the `unpaid_orders` sweep, issue 13 item 2).

Each order is cancelled in a transaction of its own, by an UPDATE conditional on the order
still being pending_payment and expired: a buyer's pay (which moves it to paying only while it
has not expired) or cancel racing the sweep, or two sweeps in several processes, cannot both
apply, so the stock comes back exactly once.
"""

import logging
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.shop.models import Order, OrderItem, PaymentAttempt, Product
from keel.apps.shop.schemas import OrderStatus
from keel.core.db import Database, is_write_conflict, utcnow

log = logging.getLogger("keel.shop.reservations")

# Orders per query, and queries per sweep run: a run stays well inside its interval (a minute
# by default) even after an outage left a backlog; the next run takes the rest.
BATCH = 100
MAX_BATCHES = 10


async def release_stock(session: AsyncSession, order_id: int) -> None:
    """Put the order's units back on sale; products in id order, so two releases and a checkout
    lock them in the same order."""
    lines = await session.execute(
        select(OrderItem.product_id, OrderItem.quantity)
        .where(OrderItem.order_id == order_id)
        .order_by(OrderItem.product_id)
    )
    for product_id, quantity in lines.all():
        await session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(stock=Product.stock + quantity)
            .execution_options(synchronize_session=False)
        )


async def expire_unpaid(database: Database, *, batch: int = BATCH, batches: int = MAX_BATCHES) -> int:
    """Cancel the orders whose reservation lapsed, at most `batch * batches` of them; how many."""
    expired = 0
    for _ in range(batches):
        async with database.sessionmaker() as session:
            ids = (
                await session.scalars(
                    select(Order.id)
                    .where(*_lapsed(utcnow()))
                    .order_by(Order.expires_at, Order.id)
                    .limit(batch)
                )
            ).all()
        for order_id in ids:
            expired += await _expire(database, order_id)
        if len(ids) < batch:
            break
    return expired


def _lapsed(now: datetime) -> tuple[ColumnElement[bool], ...]:
    # A charge the provider never answered may have taken the money: payments.retry_unanswered
    # asks again first, and the order expires only once the answer was a refusal.
    return (Order.status == OrderStatus.pending_payment, Order.expires_at <= now, ~unanswered_charge())


def unanswered_charge() -> ColumnElement[bool]:
    """The order has a charge the payment provider never answered (a condition on Order)."""
    return exists().where(PaymentAttempt.order_id == Order.id, PaymentAttempt.outcome.is_(None))


async def _expire(database: Database, order_id: int) -> int:
    now = utcnow()
    try:
        async with database.sessionmaker() as session, session.begin():
            moved = await session.execute(
                update(Order)
                .where(Order.id == order_id, *_lapsed(now))
                .values(
                    status=OrderStatus.cancelled, cancelled_at=now, cancel_reason="expired", updated_at=now
                )
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                return 0  # paid, paying or cancelled meanwhile
            await release_stock(session, order_id)
    except DBAPIError as error:
        if not is_write_conflict(error):
            raise
        log.warning("expiring an order met a write conflict; the next run retries", extra={"order": order_id})
        return 0
    return 1
