"""coach: daily records in five dimensions, day logs, asynchronous AI reviews and plans, stats (spec 001)."""

from pathlib import Path

from fastapi import FastAPI

from keel.apps.coach.models import AIUsage, Base, ReminderSend, SweepLease
from keel.apps.coach.routes import routers
from keel.apps.coach.seed import seed
from keel.apps.coach.services import summaries
from keel.apps.coach.services.dimensions import DIMENSIONS
from keel.apps.coach.tasks import queue
from keel.core import mail
from keel.core.app import KeelApp
from keel.core.retention import Prunable, prunables
from keel.core.sweeps import Sweep

# Issue 16: the week and month just ended summarised, once per deployment.
SUMMARY_SWEEP = Sweep(
    "stats_summaries",
    summaries.summarise_ended_periods,
    lambda settings: settings.coach_stats_summary_sweep_seconds,
)


async def _deliver_pending_mail(_api: FastAPI) -> None:
    """Reset codes still on their way to the relay when the server stops are delivered first."""
    await mail.drain()


app = KeelApp(
    slug="coach",
    title="keel coach",
    description="Daily coach backend: records, day logs, AI night reviews and plans, stats (spec 001).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    sweep_lease=SweepLease,
    sweeps=(SUMMARY_SWEEP,),
    retention=prunables(
        Base,
        Prunable(AIUsage, "day", "retention_coach_ai_usage_days"),
        # A reminder's unique row matters only on its day; it goes with the jobs that sent it.
        Prunable(ReminderSend, "created_at", "retention_jobs_days"),
        # A deleted record's tombstone is kept as long as change feeds remember deletions (their
        # cursors older than that are 410), then goes for good.
        *(Prunable(spec.model, "deleted_at", "retention_tombstones_days") for spec in DIMENSIONS.values()),
    ),
    on_startup=(queue.start,),
    on_shutdown=(queue.stop, _deliver_pending_mail),
    # Section 7: access tokens are refreshed every 30 minutes; refresh tokens live 7 days.
    access_token_minutes=30,
    refresh_token_days=7,
    error_codes=True,
    jobs=queue,
)
