"""fitness: offline-first workout sync for rowers, bikes and treadmills (spec 000)."""

from pathlib import Path

from fastapi import FastAPI

from keel.apps.fitness.models import Base, SessionTombstone, SweepLease
from keel.apps.fitness.routes import routers
from keel.apps.fitness.seed import seed
from keel.core import mail
from keel.core.app import KeelApp
from keel.core.retention import Prunable, prunables


async def _deliver_pending_mail(_api: FastAPI) -> None:
    """Mail still on its way to the relay when the server stops is delivered first."""
    await mail.drain()


app = KeelApp(
    slug="fitness",
    title="keel fitness",
    description="Fitness devices and app backend: accounts, trainings, offline-first session sync (spec 000).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    sweep_lease=SweepLease,
    retention=prunables(
        Base,
        Prunable(SessionTombstone, "deleted_at", "retention_tombstones_days"),
    ),
    on_shutdown=(_deliver_pending_mail,),
)
