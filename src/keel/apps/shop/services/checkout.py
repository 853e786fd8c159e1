"""Checkout: check and take the stock, snapshot the prices, write the order and its lines, all
or nothing per order, so concurrent buyers never oversell; each order's stock is then held,
unpaid, until its `expires_at`.

Orders placed at the same moment are combined (core/batching.py): one transaction serves a
batch. It locks the buyers' rows in id order and reads what their unpaid orders hold, reads the
products' stock, decides each order in arrival order as if it were alone (an order refused
leaves the stock to the ones after it), writes the accepted orders and their lines with one
INSERT each, and takes their stock with one conditional UPDATE per product. On a flash sale
every order waits for the same product row: one lock hold and one commit now serve the whole
batch instead of one order.

How long that row stays locked is what limits a flash sale, so on PostgreSQL the stock is read
without a lock and taken last: the row is locked for the UPDATE and the commit only. (The
lines' foreign key check there does not wait for it: FOR KEY SHARE does not conflict with an
UPDATE of `stock`.) The UPDATE is conditional on the stock still being there; if another batch
took it in between, the transaction is rolled back and decided again on the locked rows. On
MySQL and MariaDB the rows are locked first (InnoDB's foreign key check takes a shared lock
that, with the update after it, would deadlock two batches); SQLite has one writer. Write
conflicts and deadlocks (TiDB's optimistic transactions, MySQL's lock waits) re-run the batch;
after `attempts` its orders are answered 409.

A keyed checkout (`Idempotency-Key`) stores its answer in the batch's transaction too, so the
answer exists exactly when the order does.
"""

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Table, case, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from keel.apps.shop.models import IdempotencyKey, Order, OrderItem, Product, User
from keel.apps.shop.schemas import OrderCreate, OrderOut, OrderStatus
from keel.core.batching import Combiner
from keel.core.db import Database, is_write_conflict, utcnow
from keel.core.errors import BadRequest, Conflict, KeelError, NotFound, Unauthorized, Unprocessable
from keel.core.idempotency import Claim, Idempotency
from keel.settings import Settings

MAX_QUANTITY = 1000
# Orders per transaction: a batch holds its product rows locked while it writes, so it stays
# a few milliseconds long even with a hundred lines per order.
MAX_BATCH = 64

# A claim is taken over only after a batch that long could not still commit: a takeover while
# the first attempt still ran would place the order twice.
idempotency = Idempotency(IdempotencyKey, lease=timedelta(minutes=5))

_users = User.__table__
_products = Product.__table__
_orders = Order.__table__
_order_items = OrderItem.__table__
_PENDING = OrderStatus.pending_payment.value
# What a buyer's limits count: the orders that hold stock unpaid, a payment in flight included.
_UNPAID = (_PENDING, OrderStatus.paying.value)


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


@dataclass(slots=True)
class _Placement:
    user_id: int
    data: OrderCreate
    quantities: dict[int, int]
    claim: Claim | None


@dataclass(slots=True)
class _Held:
    """A buyer's unpaid orders, as the batch's decisions go on: how many, and units per product."""

    orders: int = 0
    units: dict[int, int] = field(default_factory=dict)


class _StockMoved(Exception):
    """Another writer took stock between the read and the take: the batch is decided again."""


class Checkout:
    """One per app and process: `deps.CheckoutService` hands it to the route."""

    def __init__(self, database: Database, settings: Settings):
        self._database = database
        self._attempts = settings.transaction_retries
        self._hold = timedelta(minutes=settings.shop_unpaid_order_minutes)
        self._max_orders = settings.shop_max_unpaid_orders
        self._max_units = settings.shop_max_unpaid_units_per_product
        self._combiner: Combiner[_Placement, dict[str, Any]] = Combiner(
            "shop.checkout", self._place_batch, max_size=MAX_BATCH
        )

    async def place(self, user_id: int, data: OrderCreate, claim: Claim | None) -> dict[str, Any]:
        """The order as `OrderOut` reads it, or the refusal raised: 404 an unknown product,
        409 a buyer's limit on unpaid orders, 400 short stock, 409 persistent conflicts."""
        return await self._combiner.submit(_Placement(user_id, data, merge_lines(data), claim))

    async def _place_batch(self, batch: Sequence[_Placement]) -> list[dict[str, Any] | Exception]:
        for attempt in range(self._attempts):
            try:
                async with self._database.engine.connect() as connection, connection.begin():
                    outcomes = await self._decide_and_write(connection, batch, first_try=attempt == 0)
            except _StockMoved:
                continue  # decided again at once, on locked rows
            except DBAPIError as error:
                if not is_write_conflict(error):
                    raise
            else:
                for placement, outcome in zip(batch, outcomes, strict=True):
                    if placement.claim is not None and not isinstance(outcome, Exception):
                        placement.claim.answered = True
                return outcomes
            if attempt + 1 < self._attempts:
                await asyncio.sleep(random.uniform(0.005, 0.02) * (2**attempt))
        return [Conflict("The stock kept changing while the order was placed; please retry")] * len(batch)

    async def _decide_and_write(
        self, connection: AsyncConnection, batch: Sequence[_Placement], *, first_try: bool
    ) -> list[dict[str, Any] | Exception]:
        product_ids = sorted({pid for p in batch for pid in p.quantities})
        buyers = await _lock_buyers(connection, sorted({p.user_id for p in batch}), product_ids)
        take_last = connection.dialect.name == "postgresql" and first_try
        products = await _read_products(connection, product_ids, lock=not take_last)
        stock = {pid: row.stock for pid, row in products.items()}
        now = utcnow()
        outcomes: list[dict[str, Any] | Exception] = []
        accepted: list[tuple[_Placement, dict[str, Any]]] = []
        for placement in batch:
            held = buyers.get(placement.user_id)
            try:
                if held is None:
                    raise Unauthorized("User no longer exists")
                self._check(placement, products, stock, held)
            except KeelError as refusal:
                outcomes.append(refusal)
                continue
            held.orders += 1
            for pid, quantity in placement.quantities.items():
                stock[pid] -= quantity
                held.units[pid] = held.units.get(pid, 0) + quantity
            order = self._order(placement, products, now)
            accepted.append((placement, order))
            outcomes.append(order)
        if accepted:
            if not take_last:
                await _take_stock(connection, products, stock)
            await self._write(connection, accepted)
            if take_last:
                await _take_stock(connection, products, stock)
        return outcomes

    def _check(
        self, placement: _Placement, products: dict[int, Row[Any]], stock: dict[int, int], held: _Held
    ) -> None:
        """Raise for the first reason this order cannot be served now: an unknown product (the
        first in id order), the buyer's limits, then short stock (the first line in id order)."""
        for pid in placement.quantities:
            if pid not in products:
                raise NotFound(f"Product {pid} not found")
        if held.orders >= self._max_orders:
            raise Conflict(
                f"You have {held.orders} unpaid orders, the most one buyer may hold; "
                "pay or cancel one before placing another"
            )
        for pid, quantity in placement.quantities.items():
            if (units := held.units.get(pid, 0) + quantity) > self._max_units:
                raise Conflict(
                    f"Product {pid} ({products[pid].name}): your unpaid orders would hold {units} units, "
                    f"at most {self._max_units} per buyer"
                )
        for pid, quantity in placement.quantities.items():
            if stock[pid] < quantity:
                raise BadRequest(
                    f"Insufficient stock for product {pid} ({products[pid].name}): "
                    f"{stock[pid]} left, {quantity} requested"
                )

    def _order(self, placement: _Placement, products: dict[int, Row[Any]], now: datetime) -> dict[str, Any]:
        lines = placement.quantities.items()
        return {
            "user_id": placement.user_id,
            "total_amount": sum((products[pid].price * q for pid, q in lines), Decimal("0.00")),
            "status": _PENDING,
            "shipping_address": placement.data.shipping_address.model_dump(),
            "payment_method": placement.data.payment_method,
            "created_at": now,
            "updated_at": now,
            "expires_at": now + self._hold,
            "paid_at": None,
            "shipped_at": None,
            "delivered_at": None,
            "cancelled_at": None,
            "payment_reference": None,
            "payment_error": None,
            "refunded_at": None,
            "refund_amount": None,
            "cancel_reason": None,
            "items": [
                {
                    "product_id": pid,
                    "product_name": products[pid].name,
                    "quantity": quantity,
                    "price_at_purchase": products[pid].price,
                    "created_at": now,
                }
                for pid, quantity in lines
            ],
        }

    async def _write(
        self, connection: AsyncConnection, accepted: list[tuple[_Placement, dict[str, Any]]]
    ) -> None:
        """The accepted orders, their lines, and the keyed ones' answers."""
        orders = [order for _, order in accepted]
        order_ids = await _insert(connection, _orders, orders)
        lines = []
        for order, order_id in zip(orders, order_ids, strict=True):
            order["id"] = order_id
            for item in order["items"]:
                item["order_id"] = order_id
                lines.append(item)
        for item, item_id in zip(lines, await _insert(connection, _order_items, lines), strict=True):
            item["id"] = item_id
        answers = [
            placement.claim.answer(201, OrderOut.model_validate(order).model_dump(mode="json"))
            for placement, order in accepted
            if placement.claim is not None
        ]
        if answers:
            await connection.execute(idempotency.answers(), answers)


async def _lock_buyers(
    connection: AsyncConnection, user_ids: list[int], product_ids: list[int]
) -> dict[int, _Held]:
    """Lock the buyers' rows, so two batches cannot both let one buyer past a limit, and read
    what their unpaid orders hold of these products. A buyer whose account is gone is missing
    from the answer."""
    locked = select(_users.c.id).where(_users.c.id.in_(user_ids)).order_by(_users.c.id).with_for_update()
    buyers = {user_id: _Held() for user_id in (await connection.execute(locked)).scalars()}
    # Every unpaid order once, with its lines of these products (none: one row of nulls).
    unpaid = (
        select(_orders.c.user_id, _orders.c.id, _order_items.c.product_id, _order_items.c.quantity)
        .outerjoin(
            _order_items,
            (_order_items.c.order_id == _orders.c.id) & _order_items.c.product_id.in_(product_ids),
        )
        .where(_orders.c.user_id.in_(user_ids), _orders.c.status.in_(_UNPAID))
    )
    counted: set[int] = set()
    for user_id, order_id, product_id, quantity in await connection.execute(unpaid):
        held = buyers[user_id]
        if order_id not in counted:
            counted.add(order_id)
            held.orders += 1
        if product_id is not None:
            held.units[product_id] = held.units.get(product_id, 0) + quantity
    return buyers


async def _read_products(
    connection: AsyncConnection, product_ids: list[int], *, lock: bool
) -> dict[int, Row[Any]]:
    """The products on sale among these, with their stock and price now; `lock`: their rows
    locked, in id order."""
    read = (
        select(_products.c.id, _products.c.name, _products.c.price, _products.c.stock)
        .where(_products.c.id.in_(product_ids), _products.c.deleted_at.is_(None))
        .order_by(_products.c.id)
    )
    return {row.id: row for row in await connection.execute(read.with_for_update() if lock else read)}


async def _take_stock(
    connection: AsyncConnection, products: dict[int, Row[Any]], stock: dict[int, int]
) -> None:
    """Take what the batch sold in one UPDATE (a statement per product cost a round trip each
    under the lock); conditional, so stock taken by another writer since the read (an unlocked
    read, or SQLite's) is found out rather than oversold."""
    sold = {pid: row.stock - stock[pid] for pid, row in products.items() if row.stock > stock[pid]}
    if not sold:
        return
    taken = case(sold, value=_products.c.id)
    moved = await connection.execute(
        update(_products)
        .where(_products.c.id.in_(list(sold)), _products.c.stock >= taken)
        .values(stock=_products.c.stock - taken)
    )
    if moved.rowcount != len(sold):
        raise _StockMoved


async def _insert(connection: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows and return their ids in the rows' order: in one statement where the
    dialect returns rows from an INSERT (PostgreSQL, SQLite, MariaDB), else one by one."""
    columns = [column.name for column in table.columns if column.name != "id"]
    values = [{name: row[name] for name in columns} for row in rows]
    if connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list((await connection.execute(statement, values)).scalars())
    return [(await connection.execute(insert(table), row)).inserted_primary_key[0] for row in values]
