"""badge's offline sweep runs on the core's deployment-wide sweeps (core/sweeps.py): a silent
device raises its offline alert once, and a second process finds the interval already run."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from keel.apps.badge import OFFLINE_SWEEP
from keel.apps.badge.models import Device, SweepLease
from keel.core.db import Database
from keel.core.sweeps import Sweeper
from keel.settings import Settings
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge


async def test_the_offline_sweep_raises_an_alert_for_a_silent_device_once_per_interval(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings, admin: Account, device: Badge
) -> None:
    rule = {"name": "silent", "kind": "device_offline", "window_minutes": 1}
    assert (await badge.post("/api/v1/alert-rules", json=rule, headers=admin.headers)).status_code == 201
    beat = builders.heartbeat()
    await device.request(badge, "POST", f"/api/v1/devices/{device.device_id}/heartbeat", beat)
    async with badge_database.sessionmaker() as session:
        silent_since = datetime.now(UTC) - timedelta(hours=2)
        await session.execute(
            update(Device).where(Device.device_id == device.device_id).values(last_heartbeat=silent_since)
        )
        await session.commit()

    first, second = (
        Sweeper("badge", SweepLease, [OFFLINE_SWEEP], badge_database, settings) for _ in range(2)
    )
    await first.run_if_due(OFFLINE_SWEEP)  # the first check anywhere creates the lease row
    await first.run_if_due(OFFLINE_SWEEP)
    await second.run_if_due(OFFLINE_SWEEP)

    alerts = (await badge.get("/api/v1/alerts?acknowledged=false", headers=admin.headers)).json()
    assert alerts["total"] == 1 and alerts["items"][0]["device_id"] == device.device_id
    assert "offline since" in alerts["items"][0]["message"]
    async with badge_database.sessionmaker() as session:
        lease = (await session.execute(select(SweepLease).where(SweepLease.name == "offline"))).scalar_one()
    assert (lease.runs, lease.holder) == (1, first.name)
