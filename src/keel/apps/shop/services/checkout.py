"""Checkout: check and take the stock, snapshot the prices, write the order and its lines, all
or nothing, so concurrent buyers never oversell.

Two ways to the same result:
- PostgreSQL: one statement in autocommit (`_ONE_STATEMENT`), atomic by itself, with two round
  trips per order in all (the user, then this) instead of six. Here a round trip costs more
  CPU than the SQL.
- Every other dialect: a transaction of Core statements, one conditional UPDATE per line, run
  by `run_transaction` so write conflicts and deadlocks are retried, then a 409.
Both report a failure the same way (`_refuse`): the first line, in product-id order, that is
unknown (404) or short of stock (400).
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from keel.apps.shop.models import Order, OrderItem, Product
from keel.apps.shop.schemas import OrderCreate, OrderStatus
from keel.core.db import Database, Executor, UTCDateTime, is_write_conflict, run_transaction, utcnow
from keel.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from keel.core.sql import dialect_of

MAX_QUANTITY = 1000

_products = Product.__table__
_orders = Order.__table__
_order_items = OrderItem.__table__
_LIVE = _products.c.deleted_at.is_(None)


def merge_lines(data: OrderCreate) -> dict[int, int]:
    """Quantities by product id, in id order; the same product listed twice is one line."""
    quantities: dict[int, int] = {}
    for line in data.items:
        quantities[line.product_id] = quantities.get(line.product_id, 0) + line.quantity
    for product_id, quantity in quantities.items():
        if quantity > MAX_QUANTITY:
            raise Unprocessable(
                f"Quantity of product {product_id} adds up to {quantity}; at most {MAX_QUANTITY} per order",
                loc=("body", "items"),
            )
    return dict(sorted(quantities.items()))


async def place_order(
    database: Database,
    session: AsyncSession,
    user_id: int,
    data: OrderCreate,
    *,
    attempts: int,
    hold: timedelta,
) -> dict[str, Any]:
    """The order as `OrderOut` reads it; its stock is held for `hold`, unpaid."""
    quantities = merge_lines(data)
    if dialect_of(database) == "postgresql":
        return await _place_in_one_statement(
            database, user_id, data, quantities, attempts=attempts, hold=hold
        )
    return await run_transaction(
        session, lambda: _place_step_by_step(session, user_id, data, quantities, hold), attempts=attempts
    )


_STOCK_LEFT = select(_products.c.name, _products.c.stock).where(
    _products.c.id == bindparam("product_id"), _LIVE
)


async def _refuse(db: Executor, quantities: dict[int, int]) -> None:
    """Raise for the first line that cannot be served; return if, as of now, all can."""
    for product_id, quantity in quantities.items():
        row = (await db.execute(_STOCK_LEFT, {"product_id": product_id})).first()
        if row is None:
            raise NotFound(f"Product {product_id} not found")
        if row.stock < quantity:
            raise BadRequest(
                f"Insufficient stock for product {product_id} ({row.name}): {row.stock} left, {quantity} requested"
            )


def _order_out(order: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **order,
        "items": items,
        "paid_at": None,
        "shipped_at": None,
        "delivered_at": None,
        "cancelled_at": None,
        "payment_reference": None,
        "payment_error": None,
        "refunded_at": None,
        "refund_amount": None,
        "cancel_reason": None,
    }


# --- PostgreSQL: one statement --------------------------------------------------------------

# The lines' product rows are locked in id order (so concurrent orders wait, never deadlock),
# then checked all together: only when every line can be served is stock taken and the order
# and its lines written. Otherwise the statement changes nothing and returns no row.
_ONE_STATEMENT = text("""
WITH lines AS (
    SELECT * FROM unnest(CAST(:product_ids AS integer[]), CAST(:quantities AS integer[]))
        AS l (product_id, quantity)
),
locked AS (
    SELECT id, name, price, stock, deleted_at FROM products
    WHERE id = ANY(CAST(:product_ids AS integer[]))
    ORDER BY id
    FOR UPDATE
),
sale AS (
    SELECT locked.id, locked.name, locked.price, lines.quantity
    FROM locked JOIN lines ON lines.product_id = locked.id
    WHERE locked.deleted_at IS NULL AND locked.stock >= lines.quantity
),
complete AS (
    SELECT count(*) = :line_count AS ok, sum(price * quantity) AS total FROM sale
),
taken AS (
    UPDATE products SET stock = products.stock - sale.quantity
    FROM sale, complete
    WHERE complete.ok AND products.id = sale.id
),
placed AS (
    INSERT INTO orders (user_id, total_amount, status, shipping_address, payment_method, created_at,
        updated_at, expires_at)
    SELECT :user_id, complete.total, :status, :shipping_address, :payment_method, :now, :now, :expires_at
    FROM complete WHERE complete.ok
    RETURNING id, total_amount
)
INSERT INTO order_items (order_id, product_id, product_name, quantity, price_at_purchase, created_at)
SELECT placed.id, sale.id, sale.name, sale.quantity, sale.price, :now
FROM placed CROSS JOIN sale
ORDER BY sale.id
RETURNING id, order_id, product_id, product_name, quantity, price_at_purchase,
    (SELECT total_amount FROM placed) AS total_amount
""").bindparams(
    bindparam("shipping_address", type_=JSONB),
    bindparam("now", type_=UTCDateTime()),
    bindparam("expires_at", type_=UTCDateTime()),
)


async def _place_in_one_statement(
    database: Database,
    user_id: int,
    data: OrderCreate,
    quantities: dict[int, int],
    *,
    attempts: int,
    hold: timedelta,
) -> dict[str, Any]:
    now = utcnow()
    order = {
        "user_id": user_id,
        "status": OrderStatus.pending_payment.value,
        "shipping_address": data.shipping_address.model_dump(),
        "payment_method": data.payment_method,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + hold,
    }
    params = {
        **order,
        "now": now,
        "product_ids": list(quantities),
        "quantities": list(quantities.values()),
        "line_count": len(quantities),
    }
    for _ in range(attempts):
        try:
            lines = (await database.autocommit.execute(_ONE_STATEMENT, params)).mappings().all()
        except DBAPIError as error:
            # The locks are taken in id order, so this should not happen; if it does, the
            # statement had no effect and is simply run again, as run_transaction would.
            if not is_write_conflict(error):
                raise
            continue
        if lines:
            items = sorted((dict(line) for line in lines), key=lambda item: item["product_id"])
            total = items[0]["total_amount"]
            for item in items:
                del item["total_amount"]
            return _order_out({**order, "id": items[0]["order_id"], "total_amount": total}, items)
        # Nothing was written. Say which line failed; if none does any more, stock came back
        # in the meantime and the order is tried again.
        await _refuse(database.autocommit, quantities)
    raise Conflict("The stock kept changing while the order was placed; please retry")


# --- Every other dialect: a transaction ----------------------------------------------------

_TAKE_STOCK = (
    update(_products)
    .where(_products.c.id == bindparam("product_id"), _LIVE, _products.c.stock >= bindparam("quantity"))
    .values(stock=_products.c.stock - bindparam("quantity"))
)
_TAKE_STOCK_RETURNING = _TAKE_STOCK.returning(_products.c.id, _products.c.name, _products.c.price)
_PRICES = select(_products.c.id, _products.c.name, _products.c.price).where(
    _products.c.id.in_(bindparam("product_ids", expanding=True))
)


async def _take_stock(connection: AsyncConnection, product_id: int, quantity: int) -> Row[Any] | None:
    """One conditional UPDATE checks and takes the stock at once: there is no moment between a
    read and a write for another buyer to slip into. Where the dialect can, the same statement
    returns the name and price the sale took."""
    params = {"product_id": product_id, "quantity": quantity}
    if connection.dialect.update_returning:
        if (taken := (await connection.execute(_TAKE_STOCK_RETURNING, params)).first()) is not None:
            return taken
    elif (await connection.execute(_TAKE_STOCK, params)).rowcount == 1:
        return None
    await _refuse(connection, {product_id: quantity})
    raise AssertionError("unreachable: a line that could not be taken must be refused")


async def _place_step_by_step(
    session: AsyncSession, user_id: int, data: OrderCreate, quantities: dict[int, int], hold: timedelta
) -> dict[str, Any]:
    connection = await session.connection()
    # Rows are locked in id order, so two orders for the same products wait rather than deadlock.
    products = {pid: await _take_stock(connection, pid, quantity) for pid, quantity in quantities.items()}
    if None in products.values():
        # Read after the update: the rows are locked now, so the price is the one this sale took.
        products = {
            row.id: row for row in await connection.execute(_PRICES, {"product_ids": list(quantities)})
        }
    now = utcnow()
    order: dict[str, Any] = {
        "user_id": user_id,
        "total_amount": sum((products[pid].price * q for pid, q in quantities.items()), Decimal("0.00")),
        "status": OrderStatus.pending_payment.value,
        "shipping_address": data.shipping_address.model_dump(),
        "payment_method": data.payment_method,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + hold,
    }
    order["id"] = (await connection.execute(insert(_orders), order)).inserted_primary_key[0]
    items = []
    for pid, quantity in quantities.items():
        item = {
            "order_id": order["id"],
            "product_id": pid,
            "product_name": products[pid].name,
            "quantity": quantity,
            "price_at_purchase": products[pid].price,
            "created_at": now,
        }
        item["id"] = (await connection.execute(insert(_order_items), item)).inserted_primary_key[0]
        items.append(item)
    return _order_out(order, items)
