"""Payment as states: pending_payment -> paying -> paid, or back to pending_payment with the
reason recorded; a cancelled paid order is refunded (issue 13 item 3).

No transaction stays open while the provider is asked, however long it takes: the order is moved
to `paying` in a transaction of its own (so a second pay while one is in flight is 409, and the
unpaid-order sweep leaves it alone), the provider is called, and its answer is recorded in
another. Each charge is a `payment_attempts` row whose reference is the provider's idempotency
reference; a charge never answered (a timeout, an error) is asked again with that reference by
the next pay, so one that did go through is found, not taken twice.

A `paying` order older than twice the provider timeout belongs to a process that died mid-call
(a live one has cut its call off by then): the sweep asks the provider again with the same
reference and records that answer. So it does for an order whose reservation lapsed with a
charge unanswered: it is not expired (the money may have been taken) until the provider answers. A refund that failed is retried by the sweep too, with the
order's one refund reference.
"""

import asyncio
import hashlib
import importlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar, Protocol

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.shop.models import Order, PaymentAttempt
from keel.apps.shop.schemas import OrderStatus
from keel.apps.shop.services import orders
from keel.apps.shop.services.reservations import unanswered_charge
from keel.core.db import Database, utcnow
from keel.core.errors import Conflict, KeelError, PaymentRequired, ServiceUnavailable
from keel.settings import Settings

log = logging.getLogger("keel.shop.payments")

# Stuck payments and owed refunds handled per sweep run; the next run takes the rest.
SWEEP_BATCH = 100


@dataclass(frozen=True, slots=True)
class Approved:
    """The charge went through; `reference` is the provider's id for it (refunds name it)."""

    reference: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The provider declined the charge; `reason` is shown to the buyer."""

    reason: str


class PaymentProvider(Protocol):
    """A payment service. Both calls must be idempotent by `idempotency_reference`: the same
    reference again answers the first call's outcome and moves no money. Raising (or not
    answering within KEEL_SHOP_PAYMENT_TIMEOUT_SECONDS) means the outcome is unknown."""

    async def charge(
        self, *, order_id: int, amount: Decimal, currency: str, method: str, idempotency_reference: str
    ) -> Approved | Refused: ...

    async def refund(self, *, reference: str, amount: Decimal, idempotency_reference: str) -> None: ...


class ProviderUnavailable(Exception):
    """The provider could not be reached or failed; nothing is known about the charge."""


class SimulatedProvider:
    """The default, deterministic for clients and tests: payment_method "declined" or
    "insufficient_funds" is refused, "provider_unavailable" fails as a provider outage would,
    any other is approved with a reference derived from the idempotency reference (so a repeat
    answers the same reference, in any process)."""

    REFUSALS: ClassVar[dict[str, str]] = {
        "declined": "Card declined",
        "insufficient_funds": "Insufficient funds",
    }
    UNAVAILABLE: ClassVar[str] = "provider_unavailable"

    async def charge(
        self, *, order_id: int, amount: Decimal, currency: str, method: str, idempotency_reference: str
    ) -> Approved | Refused:
        if method in self.REFUSALS:
            return Refused(f"{self.REFUSALS[method]} (simulated provider)")
        if method == self.UNAVAILABLE:
            raise ProviderUnavailable("the simulated provider is unavailable for this payment_method")
        return Approved("sim_" + hashlib.sha256(idempotency_reference.encode()).hexdigest()[:24])

    async def refund(self, *, reference: str, amount: Decimal, idempotency_reference: str) -> None:
        return None


def load_provider(settings: Settings) -> PaymentProvider:
    """KEEL_SHOP_PAYMENT_PROVIDER: "simulated", or `package.module:factory`, a callable given the
    settings that returns a PaymentProvider (the setting's pattern has checked the shape)."""
    spec = settings.shop_payment_provider
    if spec == "simulated":
        return SimulatedProvider()
    module, _, factory = spec.partition(":")
    provider: PaymentProvider = getattr(importlib.import_module(module), factory)(settings)
    return provider


def refund_reference(order_id: int) -> str:
    return f"shop-order-{order_id}-refund"


@dataclass(frozen=True, slots=True)
class _Attempt:
    id: int
    order_id: int
    reference: str
    amount: Decimal
    method: str


# What a provider call came to; None: no answer (an error or the timeout).
_Outcome = Approved | Refused | None


class Payments:
    """One per app and process (`deps.PaymentService`), and one per sweep run."""

    def __init__(self, database: Database, settings: Settings):
        self._database = database
        self._provider = load_provider(settings)
        self._timeout = settings.shop_payment_timeout_seconds
        self._currency = settings.shop_currency

    # --- paying ---------------------------------------------------------------------------

    async def pay(self, order_id: int, buyer_id: int, method: str | None) -> Order:
        """The paid order; 404 not the buyer's, 409 not payable (expired, in flight, moved on),
        402 refused, 503 the provider did not answer (the order stays payable)."""
        attempt = await self._start(order_id, buyer_id, method)
        outcome = await self._charge(attempt)
        await self._record(attempt, outcome)
        if isinstance(outcome, Refused):
            raise PaymentRequired(f"Payment refused: {outcome.reason}")
        if outcome is None:
            raise ServiceUnavailable(
                "The payment provider did not answer; the order was not paid and can be paid again"
            )
        return await self._load(order_id)

    async def _start(self, order_id: int, buyer_id: int, method: str | None) -> _Attempt:
        now = utcnow()
        async with self._database.sessionmaker() as session, session.begin():
            order = await orders.load_order(session, order_id, owner_id=buyer_id)
            method = method or order.payment_method or "card"
            moved = await session.execute(
                update(Order)
                .where(
                    Order.id == order_id,
                    Order.status == OrderStatus.pending_payment,
                    or_(Order.expires_at.is_(None), Order.expires_at > now),
                )
                .values(status=OrderStatus.paying, payment_method=method, payment_error=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                raise await _not_payable(session, order_id)
            # Read under the move's row lock. A charge never answered is asked again under its
            # reference: by the provider's contract one that went through answers as it did.
            if (attempt := await _unanswered(session, order_id)) is None:
                attempt = await _new_attempt(session, order_id, order.total_amount, method)
            elif attempt.method != method:
                await session.execute(
                    update(PaymentAttempt)
                    .where(PaymentAttempt.id == attempt.id)
                    .values(method=method)
                    .execution_options(synchronize_session=False)
                )
                attempt = replace(attempt, method=method)
        return attempt

    async def _charge(self, attempt: _Attempt) -> _Outcome:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._provider.charge(
                    order_id=attempt.order_id,
                    amount=attempt.amount,
                    currency=self._currency,
                    method=attempt.method,
                    idempotency_reference=attempt.reference,
                )
        except Exception:  # a timeout too: the outcome is unknown, the attempt stays unanswered
            log.warning(
                "payment provider did not answer a charge", exc_info=True, extra={"order": attempt.order_id}
            )
            return None

    async def _record(self, attempt: _Attempt, outcome: _Outcome) -> None:
        """Write the provider's answer, unless another caller recorded this attempt's already
        (the sweep takes over calls it believes dead; both got the same answer)."""
        now = utcnow()
        async with self._database.sessionmaker() as session, session.begin():
            if outcome is not None:
                answered = await session.execute(
                    update(PaymentAttempt)
                    .where(PaymentAttempt.id == attempt.id, PaymentAttempt.outcome.is_(None))
                    .values(
                        outcome="approved" if isinstance(outcome, Approved) else "refused",
                        provider_reference=outcome.reference if isinstance(outcome, Approved) else None,
                        error=outcome.reason[:500] if isinstance(outcome, Refused) else None,
                        answered_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if answered.rowcount != 1:
                    return
            await session.execute(
                update(Order)
                .where(Order.id == attempt.order_id, Order.status == OrderStatus.paying)
                .values(updated_at=now, **_order_outcome(outcome, now))
                .execution_options(synchronize_session=False)
            )

    async def resolve_stuck(self) -> int:
        """Ask again about the charges of processes that died mid-call; how many were asked."""
        cutoff = utcnow() - timedelta(seconds=2 * self._timeout)
        stuck = (Order.status == OrderStatus.paying, Order.updated_at < cutoff)
        return await self._ask_again(await self._ids(*stuck), *stuck)

    async def retry_unanswered(self) -> int:
        """Ask again about the unanswered charges of orders whose reservation lapsed: such an
        order is not expired (the charge may have gone through) until the provider answers."""
        lapsed = (Order.status == OrderStatus.pending_payment, Order.expires_at <= utcnow())
        return await self._ask_again(await self._ids(*lapsed, unanswered_charge()), *lapsed)

    async def _ids(self, *conditions: ColumnElement[bool]) -> Sequence[int]:
        async with self._database.sessionmaker() as session:
            statement = select(Order.id).where(*conditions).order_by(Order.id).limit(SWEEP_BATCH)
            return (await session.scalars(statement)).all()

    async def _ask_again(self, ids: Sequence[int], *conditions: ColumnElement[bool]) -> int:
        asked = 0
        for order_id in ids:
            if (attempt := await self._take_over(order_id, *conditions)) is not None:
                await self._record(attempt, await self._charge(attempt))
                asked += 1
        return asked

    async def _take_over(self, order_id: int, *conditions: ColumnElement[bool]) -> _Attempt | None:
        # Moving the order to paying, `updated_at` now, is the claim: a pay or another sweep run
        # meanwhile finds it in flight and leaves it.
        async with self._database.sessionmaker() as session, session.begin():
            moved = await session.execute(
                update(Order)
                .where(Order.id == order_id, *conditions)
                .values(status=OrderStatus.paying, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                return None
            return await _unanswered(session, order_id)

    # --- cancelling and refunds -------------------------------------------------------------

    async def cancel(self, order_id: int, viewer: orders.Viewer) -> Order:
        """Cancel a pending or paid order (the buyer's own, or any as an admin) and give its
        stock back; a paid one is refunded. 409 while a charge is unconfirmed. A refund the provider did not answer leaves
        `refunded_at` empty, and the sweep retries it."""
        async with self._database.sessionmaker() as session, session.begin():
            order = await orders.get_order(session, order_id, viewer)
            # The money may have been taken: a cancel now would owe a refund nobody records.
            if order.status == OrderStatus.pending_payment and await _unanswered(session, order.id):
                raise Conflict(
                    f"Order {order.id} has a charge the payment provider has not confirmed; pay again "
                    "to learn its outcome (the same charge is asked, never a second one), or cancel later"
                )
            reason = "buyer" if order.user_id == viewer.id else "admin"
            order = await orders.transition(session, order, "cancel", cancel_reason=reason)
        # Only an approved charge sets the reference, so a cancelled order that has one was paid.
        if order.payment_reference is not None:
            await self._refund(order.id, order.payment_reference, order.total_amount)
            order = await self._load(order_id)
        return order

    async def refund_owed(self) -> int:
        """Retry the refunds of cancelled paid orders that were not recorded; how many were."""
        async with self._database.sessionmaker() as session:
            owed = (
                await session.execute(
                    select(Order.id, Order.payment_reference, Order.total_amount)
                    .where(
                        Order.status == OrderStatus.cancelled,
                        Order.payment_reference.is_not(None),
                        Order.refunded_at.is_(None),
                    )
                    .order_by(Order.id)
                    .limit(SWEEP_BATCH)
                )
            ).all()
        refunded = 0
        for order_id, reference, amount in owed:
            refunded += await self._refund(order_id, reference, amount)
        return refunded

    async def _refund(self, order_id: int, reference: str, amount: Decimal) -> int:
        try:
            async with asyncio.timeout(self._timeout):
                await self._provider.refund(
                    reference=reference, amount=amount, idempotency_reference=refund_reference(order_id)
                )
        except Exception:
            log.warning("payment provider did not answer a refund", exc_info=True, extra={"order": order_id})
            return 0
        now = utcnow()
        async with self._database.sessionmaker() as session, session.begin():
            recorded = await session.execute(
                update(Order)
                .where(Order.id == order_id, Order.refunded_at.is_(None))
                .values(refunded_at=now, refund_amount=amount, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return recorded.rowcount

    async def _load(self, order_id: int) -> Order:
        async with self._database.sessionmaker() as session:
            return await orders.load_order(session, order_id, owner_id=None)


def _order_outcome(outcome: _Outcome, now: datetime) -> dict[str, object]:
    if isinstance(outcome, Approved):
        return {"status": OrderStatus.paid, "paid_at": now, "payment_reference": outcome.reference}
    if isinstance(outcome, Refused):
        return {"status": OrderStatus.pending_payment, "payment_error": outcome.reason[:500]}
    return {
        "status": OrderStatus.pending_payment,
        "payment_error": "The payment provider did not answer; paying again repeats the same charge",
    }


async def _unanswered(session: AsyncSession, order_id: int) -> _Attempt | None:
    row = await session.scalar(
        select(PaymentAttempt)
        .where(PaymentAttempt.order_id == order_id, PaymentAttempt.outcome.is_(None))
        .order_by(PaymentAttempt.id.desc())
        .limit(1)
    )
    return None if row is None else _Attempt(row.id, order_id, row.reference, row.amount, row.method)


async def _new_attempt(session: AsyncSession, order_id: int, amount: Decimal, method: str) -> _Attempt:
    reference = f"shop-order-{order_id}-charge-{uuid.uuid4().hex}"
    row = PaymentAttempt(order_id=order_id, reference=reference, method=method, amount=amount)
    session.add(row)
    await session.flush()
    return _Attempt(row.id, order_id, reference, amount, method)


async def _not_payable(session: AsyncSession, order_id: int) -> KeelError:
    """Why the order could not move to paying, as the 409's detail."""
    row = (await session.execute(select(Order.status, Order.expires_at).where(Order.id == order_id))).one()
    if row.status == OrderStatus.paying:
        return Conflict(f"A payment for order {order_id} is already in progress; wait for its answer")
    if row.status == OrderStatus.pending_payment:
        return Conflict(
            f"Order {order_id} expired at {row.expires_at.isoformat()}: its reservation lapsed and it "
            "can no longer be paid; place a new order"
        )
    return Conflict(
        f"Cannot pay order {order_id}: it is {row.status}, and only an order that is pending_payment can be"
    )
