"""shop: the TiDB shopping site backend (spec 003): accounts, catalogue, orders with stock."""

from pathlib import Path

from keel.apps.shop.models import Base, SweepLease
from keel.apps.shop.routes import routers
from keel.apps.shop.seed import seed
from keel.apps.shop.services import reservations
from keel.apps.shop.services.payments import Payments
from keel.core.app import KeelApp
from keel.core.db import Database
from keel.core.retention import prunables
from keel.core.sweeps import Sweep
from keel.settings import Settings


async def _sweep_unpaid_orders(database: Database, settings: Settings) -> None:
    payments = Payments(database, settings)
    await payments.resolve_stuck()
    await payments.retry_unanswered()  # before expiring: a charge that went through is paid
    await reservations.expire_unpaid(database)
    await payments.refund_owed()


# Issue 13: payments of processes that died mid-call, and unanswered charges of lapsed orders,
# asked about again; lapsed reservations cancelled and their stock returned; failed refunds
# retried; once per deployment per interval.
UNPAID_ORDERS_SWEEP = Sweep(
    "unpaid_orders", _sweep_unpaid_orders, lambda settings: settings.shop_unpaid_sweep_seconds
)

app = KeelApp(
    slug="shop",
    title="keel shop",
    description="Shopping site backend: users, categories, products, orders with stock (spec 003).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    sweep_lease=SweepLease,
    sweeps=(UNPAID_ORDERS_SWEEP,),
    retention=prunables(Base),
)
