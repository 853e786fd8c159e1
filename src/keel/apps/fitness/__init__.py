"""fitness: offline-first workout sync for rowers, bikes and treadmills (spec 000)."""

from pathlib import Path

from keel.apps.fitness.models import Base
from keel.apps.fitness.routes import routers
from keel.apps.fitness.seed import seed
from keel.core.app import KeelApp

app = KeelApp(
    slug="fitness",
    title="keel fitness",
    description="Fitness devices and app backend: accounts, trainings, offline-first session sync (spec 000).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
)
