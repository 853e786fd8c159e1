"""coach: daily records in five dimensions, day logs, asynchronous AI reviews and plans, stats (spec 001)."""

from pathlib import Path

from keel.apps.coach.models import Base, SweepLease
from keel.apps.coach.routes import routers
from keel.apps.coach.seed import seed
from keel.apps.coach.services.records import DIMENSIONS
from keel.apps.coach.tasks import queue
from keel.core.app import KeelApp
from keel.core.retention import Prunable, prunables

app = KeelApp(
    slug="coach",
    title="keel coach",
    description="Daily coach backend: records, day logs, AI night reviews and plans, stats (spec 001).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    sweep_lease=SweepLease,
    # A deleted record's tombstone is kept as long as change feeds remember deletions (their
    # cursors older than that are 410), then goes for good.
    retention=prunables(
        Base,
        *(Prunable(spec.model, "deleted_at", "retention_tombstones_days") for spec in DIMENSIONS.values()),
    ),
    on_startup=(queue.start,),
    on_shutdown=(queue.stop,),
    # Section 7: access tokens are refreshed every 30 minutes; refresh tokens live 7 days.
    access_token_minutes=30,
    refresh_token_days=7,
    error_codes=True,
    jobs=queue,
)
