"""queue: take-a-number bookings at stores, with live updates over a WebSocket (spec 002)."""

from pathlib import Path

from keel.apps.queue.deps import realtime
from keel.apps.queue.models import Base, SweepLease
from keel.apps.queue.routes import routers
from keel.apps.queue.seed import seed
from keel.apps.queue.services import day_end, days
from keel.core.app import KeelApp
from keel.core.db import Database
from keel.core.retention import prunables
from keel.core.sweeps import Sweep
from keel.settings import Settings


async def _close_store_days(database: Database, settings: Settings) -> None:
    await day_end.close_ended_days(database, realtime, settings, days.clock())


# Issue 14 item 1: each store's ended day closed (waiting -> no_show), once per deployment.
DAY_SWEEP = Sweep("store_days", _close_store_days, lambda settings: settings.queue_day_sweep_seconds)

app = KeelApp(
    slug="queue",
    title="keel queue",
    description="Take-a-number queues at stores: bookings, chats, notifications, live WebSocket updates (spec 002).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    sweep_lease=SweepLease,
    sweeps=(DAY_SWEEP,),
    retention=prunables(Base),
    # The spec answers a malformed query parameter (GET /stores?page=0) with 400.
    query_error_status=400,
    on_startup=(realtime.start,),
    on_shutdown=(realtime.stop,),
)
