"""Checkout and the order's life: pending_payment -> paid -> shipped -> delivered, or cancelled
from pending_payment or paid with the stock given back."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from keel.apps.shop.models import Order, OrderItem, Product
from keel.apps.shop.schemas import OrderCreate, OrderStatus, OrderSummaryOut
from keel.core.db import utcnow
from keel.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from keel.core.pagination import Offset

MAX_QUANTITY = 1000


def merge_lines(data: OrderCreate) -> dict[int, int]:
    """The same product listed twice is one line with the quantities added."""
    quantities: dict[int, int] = {}
    for line in data.items:
        quantities[line.product_id] = quantities.get(line.product_id, 0) + line.quantity
    for product_id, quantity in quantities.items():
        if quantity > MAX_QUANTITY:
            raise Unprocessable(
                f"Quantity of product {product_id} adds up to {quantity}; at most {MAX_QUANTITY} per order",
                loc=("body", "items"),
            )
    return quantities


_products = Product.__table__
_orders = Order.__table__
_order_items = OrderItem.__table__
_LIVE = _products.c.deleted_at.is_(None)

# Checkout is the hottest write, so it runs Core statements, built once, on the session's own
# connection: no unit of work to plan, no objects to build, and the answer made from what was
# written rather than read back.
_TAKE_STOCK = (
    update(_products)
    .where(_products.c.id == bindparam("product_id"), _LIVE, _products.c.stock >= bindparam("quantity"))
    .values(stock=_products.c.stock - bindparam("quantity"))
)
_TAKE_STOCK_RETURNING = _TAKE_STOCK.returning(_products.c.id, _products.c.name, _products.c.price)
_PRICES = select(_products.c.id, _products.c.name, _products.c.price).where(
    _products.c.id.in_(bindparam("product_ids", expanding=True))
)
_STOCK_LEFT = select(_products.c.name, _products.c.stock).where(
    _products.c.id == bindparam("product_id"), _LIVE
)


async def _take_stock(connection: AsyncConnection, product_id: int, quantity: int) -> Row[Any] | None:
    """One conditional UPDATE checks and takes the stock at once: there is no moment between a
    read and a write for another buyer to slip into, so concurrent orders never oversell.
    Where the dialect can, the same statement returns the name and price the sale took."""
    params = {"product_id": product_id, "quantity": quantity}
    if connection.dialect.update_returning:
        if (taken := (await connection.execute(_TAKE_STOCK_RETURNING, params)).first()) is not None:
            return taken
    elif (await connection.execute(_TAKE_STOCK, params)).rowcount == 1:
        return None
    row = (await connection.execute(_STOCK_LEFT, {"product_id": product_id})).first()
    if row is None:
        raise NotFound(f"Product {product_id} not found")
    raise BadRequest(
        f"Insufficient stock for product {product_id} ({row.name}): {row.stock} left, {quantity} requested"
    )


async def create_order(session: AsyncSession, user_id: int, data: OrderCreate) -> dict[str, Any]:
    """The order as `OrderOut` reads it."""
    quantities = merge_lines(data)
    product_ids = sorted(quantities)
    connection = await session.connection()
    # Rows are locked in id order, so two orders for the same products wait rather than deadlock.
    products = {pid: await _take_stock(connection, pid, quantities[pid]) for pid in product_ids}
    if None in products.values():
        # Read after the update: the rows are locked now, so the price is the one this sale took.
        products = {row.id: row for row in await connection.execute(_PRICES, {"product_ids": product_ids})}
    now = utcnow()
    order: dict[str, Any] = {
        "user_id": user_id,
        "total_amount": sum((products[pid].price * quantities[pid] for pid in product_ids), Decimal("0.00")),
        "status": OrderStatus.pending_payment.value,
        "shipping_address": data.shipping_address.model_dump(),
        "payment_method": data.payment_method,
        "created_at": now,
        "updated_at": now,
    }
    order["id"] = (await connection.execute(insert(_orders), order)).inserted_primary_key[0]
    order["items"] = []
    for pid in product_ids:
        item = {
            "order_id": order["id"],
            "product_id": pid,
            "product_name": products[pid].name,
            "quantity": quantities[pid],
            "price_at_purchase": products[pid].price,
            "created_at": now,
        }
        item["id"] = (await connection.execute(insert(_order_items), item)).inserted_primary_key[0]
        order["items"].append(item)
    return {**order, "paid_at": None, "shipped_at": None, "delivered_at": None, "cancelled_at": None}


async def list_orders(
    session: AsyncSession, user_id: int, page: Offset, status: OrderStatus | None
) -> list[OrderSummaryOut]:
    item_count = func.coalesce(func.sum(OrderItem.quantity), 0).label("item_count")
    statement = (
        select(Order.id, Order.total_amount, Order.status, Order.created_at, item_count)
        .outerjoin(OrderItem, OrderItem.order_id == Order.id)
        .where(Order.user_id == user_id)
        .group_by(Order.id, Order.total_amount, Order.status, Order.created_at)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .offset(page.skip)
        .limit(page.limit)
    )
    if status is not None:
        statement = statement.where(Order.status == status)
    return [OrderSummaryOut.model_validate(row._mapping) for row in (await session.execute(statement)).all()]


class Viewer(Protocol):
    """Who is looking: the signed-in user's row, or anything with these two attributes."""

    id: int
    is_admin: bool


async def load_order(session: AsyncSession, order_id: int, *, owner_id: int | None) -> Order:
    """The order with its items, freshly read; `owner_id` None means any owner."""
    statement = (
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.items))
        .execution_options(populate_existing=True)
    )
    if owner_id is not None:
        statement = statement.where(Order.user_id == owner_id)
    order = (await session.scalars(statement)).one_or_none()
    if order is None:
        raise NotFound("Order not found")
    return order


async def get_order(
    session: AsyncSession, order_id: int, viewer: Viewer, *, owner_only: bool = False
) -> Order:
    """Another user's order is invisible (404); an admin sees every order unless `owner_only`."""
    return await load_order(
        session, order_id, owner_id=None if viewer.is_admin and not owner_only else viewer.id
    )


@dataclass(frozen=True)
class Transition:
    sources: tuple[OrderStatus, ...]
    target: OrderStatus
    stamp: str


TRANSITIONS = {
    "pay": Transition((OrderStatus.pending_payment,), OrderStatus.paid, "paid_at"),
    "ship": Transition((OrderStatus.paid,), OrderStatus.shipped, "shipped_at"),
    "deliver": Transition((OrderStatus.shipped,), OrderStatus.delivered, "delivered_at"),
    "cancel": Transition(
        (OrderStatus.pending_payment, OrderStatus.paid), OrderStatus.cancelled, "cancelled_at"
    ),
}


async def transition(session: AsyncSession, order: Order, action: str, **changes: str) -> Order:
    """Move an order along; the conditional update means two racing moves cannot both apply,
    so a cancel gives the stock back exactly once."""
    rule = TRANSITIONS[action]
    now = utcnow()
    moved = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status.in_(rule.sources))
        .values(status=rule.target, updated_at=now, **{rule.stamp: now}, **changes)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        current = await session.scalar(select(Order.status).where(Order.id == order.id))
        allowed = " or ".join(source.value for source in rule.sources)
        raise Conflict(
            f"Cannot {action} order {order.id}: it is {current}, and only an order that is {allowed} can be"
        )
    if rule.target is OrderStatus.cancelled:
        for item in sorted(order.items, key=lambda line: line.product_id):
            await session.execute(
                update(Product)
                .where(Product.id == item.product_id)
                .values(stock=Product.stock + item.quantity)
                .execution_options(synchronize_session=False)
            )
    return await load_order(session, order.id, owner_id=None)
