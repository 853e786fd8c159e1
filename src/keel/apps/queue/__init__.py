"""queue: take-a-number bookings at stores, with live updates over a WebSocket (spec 002)."""

from pathlib import Path

from keel.apps.queue.deps import realtime
from keel.apps.queue.models import Base, SweepLease
from keel.apps.queue.routes import routers
from keel.apps.queue.seed import seed
from keel.core.app import KeelApp
from keel.core.retention import prunables

app = KeelApp(
    slug="queue",
    title="keel queue",
    description="Take-a-number queues at stores: bookings, chats, notifications, live WebSocket updates (spec 002).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    sweep_lease=SweepLease,
    retention=prunables(Base),
    # The spec answers a malformed query parameter (GET /stores?page=0) with 400.
    query_error_status=400,
    on_startup=(realtime.start,),
    on_shutdown=(realtime.stop,),
)
