"""The order's life: pending_payment -> paying -> paid (services/payments.py) -> shipped ->
delivered, or cancelled from pending_payment or paid with the stock given back (a paid one
refunded), or by the unpaid-order sweep once it expires (services/reservations.py)."""

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from keel.apps.shop.models import Order, OrderItem
from keel.apps.shop.schemas import OrderFilters, OrderStatus, OrderSummaryOut
from keel.apps.shop.services.reservations import release_stock
from keel.core.db import utcnow
from keel.core.errors import BadRequest, Conflict, Forbidden, NotFound
from keel.core.pagination import Offset, fetch_page


class Viewer(Protocol):
    """Who is looking: the signed-in user's row, or anything with these two attributes."""

    id: int
    is_admin: bool


# Units per order, read for the page's rows only: a subquery per row, by
# ix_order_items_order_id, rather than a join grouped over every order the filters match.
_ITEM_COUNT = (
    select(func.coalesce(func.sum(OrderItem.quantity), 0))
    .where(OrderItem.order_id == Order.id)
    .correlate(Order)
    .scalar_subquery()
    .label("item_count")
)
_SUMMARY = (Order.id, Order.user_id, Order.total_amount, Order.status, Order.created_at, _ITEM_COUNT)


async def list_orders(
    session: AsyncSession, viewer: Viewer, page: Offset, filters: OrderFilters
) -> tuple[list[OrderSummaryOut], int]:
    """One page of orders, newest first, and how many match the filters across all pages. A
    customer's are their own; an admin's are everyone's, or `user_id`'s. Two statements, each
    on an index: ix_orders_user_id_created_at for one customer's, ix_orders_created_at for all."""
    user_id = filters.user_id
    if not viewer.is_admin:
        if user_id is not None and user_id != viewer.id:
            raise Forbidden("Only an admin can list another user's orders")
        user_id = viewer.id
    if filters.created_from and filters.created_to and filters.created_from > filters.created_to:
        raise BadRequest("created_from must not be after created_to")
    conditions = []
    if user_id is not None:
        conditions.append(Order.user_id == user_id)
    if filters.status is not None:
        conditions.append(Order.status == filters.status)
    if filters.created_from is not None:
        conditions.append(Order.created_at >= filters.created_from)
    if filters.created_to is not None:
        conditions.append(Order.created_at < filters.created_to)
    # Counted on the orders alone, without the page's item counts.
    total = (await session.execute(select(func.count()).select_from(Order).where(*conditions))).scalar_one()
    statement = select(*_SUMMARY).where(*conditions).order_by(Order.created_at.desc(), Order.id.desc())
    rows, total = await fetch_page(session, statement, page, total=total)
    return [OrderSummaryOut.model_validate(row._mapping) for row in rows], total


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


# Paying is not here: it asks the provider between two transactions (services/payments.py).
TRANSITIONS = {
    "ship": Transition((OrderStatus.paid,), OrderStatus.shipped, "shipped_at"),
    "deliver": Transition((OrderStatus.shipped,), OrderStatus.delivered, "delivered_at"),
    "cancel": Transition(
        (OrderStatus.pending_payment, OrderStatus.paid), OrderStatus.cancelled, "cancelled_at"
    ),
}


async def transition(session: AsyncSession, order: Order, action: str, **changes: str) -> Order:
    """Move an order along; the conditional update means two racing moves (or a move and the
    unpaid-order sweep) cannot both apply, so a cancel gives the stock back exactly once."""
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
        await release_stock(session, order.id)
    return await load_order(session, order.id, owner_id=None)
