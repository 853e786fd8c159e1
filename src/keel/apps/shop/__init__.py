"""shop: the TiDB shopping site backend (spec 003): accounts, catalogue, orders with stock."""

from pathlib import Path

from keel.apps.shop.models import Base, SweepLease
from keel.apps.shop.routes import routers
from keel.apps.shop.seed import seed
from keel.core.app import KeelApp
from keel.core.retention import prunables

app = KeelApp(
    slug="shop",
    title="keel shop",
    description="Shopping site backend: users, categories, products, orders with stock (spec 003).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    sweep_lease=SweepLease,
    retention=prunables(Base),
)
