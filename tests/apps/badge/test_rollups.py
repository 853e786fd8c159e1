"""Daily heartbeat rollups (issue 17 item 9): computed per badge and UTC day by the
deployment's sweep, idempotent, read through the API, kept after the raw heartbeats go and
pruned by their own retention setting."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from keel.apps.badge import ROLLUP_SWEEP, app
from keel.apps.badge.models import Heartbeat, HeartbeatDaily, SweepLease
from keel.apps.badge.services import rollups
from keel.core.db import Database
from keel.core.retention import retention_sweep
from keel.core.sweeps import Sweeper
from keel.settings import Settings
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge


async def _beats(client: httpx.AsyncClient, device: Badge, *values: tuple[float, float, float]) -> None:
    for cpu, memory, temperature in values:
        beat = builders.heartbeat(cpu_usage=cpu, memory_usage=memory, temperature=temperature)
        sent = await device.request(client, "POST", f"/api/v1/devices/{device.device_id}/heartbeat", beat)
        assert sent.status_code == 201, sent.text


async def _move_to(database: Database, device_id: str, when: datetime) -> None:
    """Every heartbeat of the device not yet moved, received at `when` instead."""
    async with database.sessionmaker() as session:
        await session.execute(
            update(Heartbeat)
            .where(
                Heartbeat.device_id == device_id,
                Heartbeat.received_at > datetime.now(UTC) - timedelta(hours=1),
            )
            .values(received_at=when)
        )
        await session.commit()


async def _sweep(database: Database, settings: Settings) -> None:
    sweeper = Sweeper("badge", SweepLease, [ROLLUP_SWEEP], database, settings)
    await sweeper.run_if_due(ROLLUP_SWEEP)  # the first check anywhere creates the lease row
    await sweeper.run_if_due(ROLLUP_SWEEP)


async def test_finished_days_are_rolled_up_once_per_badge_and_read_through_the_api(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings, admin: Account, guest: Account
) -> None:
    device, other = await builders.badge(badge, admin), await builders.badge(badge, admin)
    today = datetime.now(UTC).date()
    three_days_ago = datetime.combine(today - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    await _beats(badge, device, (10.0, 40.0, 30.0), (20.0, 60.0, 50.0))
    await _move_to(badge_database, device.device_id, three_days_ago + timedelta(hours=1))
    await _beats(badge, device, (30.0, 50.0, 40.0))
    await _move_to(badge_database, device.device_id, three_days_ago + timedelta(days=1, hours=23))
    await _beats(badge, other, (5.0, 5.0, 5.0))
    await _move_to(badge_database, other.device_id, three_days_ago + timedelta(hours=2))
    await _beats(badge, device, (90.0, 90.0, 90.0))  # today's: not a finished day

    await _sweep(badge_database, settings)

    target = f"/api/v1/devices/{device.device_id}/heartbeats/daily"
    days = (await badge.get(target, headers=guest.headers)).json()
    assert [(d["day"], d["count"]) for d in days] == [
        ((today - timedelta(days=2)).isoformat(), 1),
        ((today - timedelta(days=3)).isoformat(), 2),
    ]
    oldest = days[1]
    assert (oldest["cpu_min"], oldest["cpu_avg"], oldest["cpu_max"]) == (10.0, 15.0, 20.0)
    assert (oldest["memory_min"], oldest["memory_avg"], oldest["memory_max"]) == (40.0, 50.0, 60.0)
    assert (oldest["temperature_min"], oldest["temperature_avg"], oldest["temperature_max"]) == (
        30.0,
        40.0,
        50.0,
    )
    others = (
        await badge.get(f"/api/v1/devices/{other.device_id}/heartbeats/daily", headers=guest.headers)
    ).json()
    assert [(d["count"], d["cpu_max"]) for d in others] == [(1, 5.0)]
    # Filters, the device's own view, and checks.
    since = (today - timedelta(days=2)).isoformat()
    assert len((await badge.get(f"{target}?start={since}", headers=guest.headers)).json()) == 1
    assert len((await badge.get(f"{target}?limit=1", headers=guest.headers)).json()) == 1
    assert (await device.request(badge, "GET", target)).status_code == 200
    assert (await other.request(badge, "GET", target)).status_code == 404
    assert (await badge.get(f"{target}?start=yesterday", headers=guest.headers)).status_code == 422
    assert (
        await badge.get("/api/v1/devices/ghost/heartbeats/daily", headers=guest.headers)
    ).status_code == 404

    # Running a day again replaces it: the same rows, not twice the count.
    async with badge_database.engine.begin() as connection:
        assert await rollups.roll_up_day(connection, today - timedelta(days=3)) == 2
    assert (await badge.get(target, headers=guest.headers)).json() == days
    # A later run starts after the last day rolled up: nothing new, nothing doubled.
    assert await rollups.sweep(badge_database) == 0
    assert (await badge.get(target, headers=guest.headers)).json() == days


async def test_rollups_outlive_the_heartbeats_and_go_after_their_own_retention(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings, admin: Account, device: Badge
) -> None:
    await _beats(badge, device, (10.0, 10.0, 10.0))
    await _move_to(badge_database, device.device_id, datetime.now(UTC) - timedelta(days=35))
    await _sweep(badge_database, settings)
    async with badge_database.sessionmaker() as session:
        session.add(
            HeartbeatDaily(
                device_id=device.device_id, day=datetime.now(UTC).date() - timedelta(days=500), count=1
            )
        )
        await session.commit()

    sweep = retention_sweep(app.retention)
    await sweep.run(badge_database, settings)

    async with badge_database.sessionmaker() as session:
        assert (await session.scalars(select(Heartbeat.id))).all() == []
        kept = (await session.scalars(select(HeartbeatDaily.day))).all()
    assert kept == [(datetime.now(UTC) - timedelta(days=35)).date()]


def test_heartbeats_must_outlast_the_rollup_that_reads_them(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="KEEL_RETENTION_HEARTBEATS_DAYS"):
        Settings(**{**settings.model_dump(), "retention_heartbeats_days": 1.0})
    assert (
        Settings(**{**settings.model_dump(), "retention_heartbeats_days": 2.0}).retention_heartbeats_days
        == 2.0
    )
