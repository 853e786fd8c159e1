"""A payment provider loaded by KEEL_SHOP_PAYMENT_PROVIDER=tests.apps.shop.payment_providers:gated,
as a deployment would load its own: it approves, but only once the test opens its gate, and it
records every call."""

import asyncio
from decimal import Decimal

from keel.apps.shop.services.payments import Approved, ProviderUnavailable, Refused
from keel.settings import Settings


class Gated:
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.charges: list[str] = []
        self.refunds: list[tuple[str, Decimal, str]] = []
        self.charges_fail = False
        self.refund_fails = False

    async def charge(
        self, *, order_id: int, amount: Decimal, currency: str, method: str, idempotency_reference: str
    ) -> Approved | Refused:
        self.charges.append(idempotency_reference)
        self.entered.set()
        if self.charges_fail:
            raise ProviderUnavailable("charges are down")
        await self.gate.wait()
        return Approved(f"gated-{idempotency_reference}")

    async def refund(self, *, reference: str, amount: Decimal, idempotency_reference: str) -> None:
        if self.refund_fails:
            raise ProviderUnavailable("refunds are down")
        self.refunds.append((reference, amount, idempotency_reference))


# The test's instance: made afresh for each test (its events belong to that test's event loop).
current = Gated()


def gated(_settings: Settings) -> Gated:
    return current
