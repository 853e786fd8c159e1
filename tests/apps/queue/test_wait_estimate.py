"""The wait estimate (issue 14 item 8): the store's default until it has completed enough
services, then a trimmed mean of its recent ones, shared among the counters serving at once."""

import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, update

from keel.apps.queue.models import Booking
from keel.core.db import Database, utcnow
from keel.settings import Settings
from tests.apps.queue import builders
from tests.apps.queue.builders import Account


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # Not the built-in 5, so a test sees this setting at work.
    return Settings(
        env="test", data_dir=data_dir, access_log=False, secret_key="t" * 48, queue_default_service_minutes=4
    )


async def _serve(
    queue: httpx.AsyncClient, database: Database, owner: Account, store_id: str, duration: timedelta
) -> None:
    """A customer booked, served for `duration` (its start moved back) and completed."""
    booking = await builders.booking(queue, await builders.account(queue), store_id)
    assert (await builders.set_status(queue, owner, booking["id"], "serving")).status_code == 200
    async with database.engine.begin() as connection:
        await connection.execute(
            update(Booking)
            .where(Booking.id == uuid.UUID(booking["id"]))
            .values(serving_at=utcnow() - duration)
        )
    assert (await builders.set_status(queue, owner, booking["id"], "completed")).status_code == 200


async def _waits(queue: httpx.AsyncClient, store_id: str, people: int) -> list[int]:
    answers = [await builders.booking(queue, await builders.account(queue), store_id) for _ in range(people)]
    return [a["estimated_wait_time"] for a in answers]


async def test_a_cold_store_uses_the_global_default_then_its_own(
    queue: httpx.AsyncClient, owner: Account, store_id: str
) -> None:
    assert await _waits(queue, store_id, 3) == [0, 4, 8]
    own = await builders.store(queue, owner, default_service_minutes=2.5)
    assert await _waits(queue, own, 3) == [0, 2, 5]  # 2.5 and 5 minutes, rounded half to even
    shown = (await queue.get(f"/stores/{own}")).json()
    assert (shown["default_service_minutes"], shown["average_service_minutes"]) == (2.5, None)
    changed = await queue.put(f"/stores/{own}", json={"default_service_minutes": 3}, headers=owner.headers)
    assert changed.status_code == 200
    assert await _waits(queue, own, 1) == [9]  # three ahead now
    for bad in (0, -1, "soon", 1441):
        refused = await queue.put(
            f"/stores/{own}", json={"default_service_minutes": bad}, headers=owner.headers
        )
        assert refused.status_code == 422, bad


async def test_one_very_short_service_does_not_drop_the_estimate(
    queue: httpx.AsyncClient, owner: Account, store_id: str, queue_database: Database
) -> None:
    for _ in range(4):
        await _serve(queue, queue_database, owner, store_id, timedelta(minutes=10))
    # Four services are too few to measure: still the default.
    assert (await queue.get(f"/stores/{store_id}")).json()["average_service_minutes"] is None
    await _serve(queue, queue_database, owner, store_id, timedelta(seconds=4))
    # The fastest and slowest are left out: 10 minutes (the plain mean would be 8).
    assert (await queue.get(f"/stores/{store_id}")).json()["average_service_minutes"] == 10.0
    assert await _waits(queue, store_id, 2) == [0, 10]


async def test_only_the_recent_services_count(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str, queue_database: Database
) -> None:
    # Twenty-five earlier services: five of an hour long ago, then twenty of two minutes.
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "store_id": uuid.UUID(store_id),
            "user_id": uuid.UUID(customer.id),
            "queue_day": date(2026, 1, 1),
            "queue_number": n,
            "status": "completed",
            "created_at": now - timedelta(days=2),
            "serving_at": done - length,
            "completed_at": done,
            "updated_at": done,
        }
        for n, (done, length) in enumerate(
            [(now - timedelta(days=1, minutes=n), timedelta(hours=1)) for n in range(5)]
            + [(now - timedelta(minutes=n), timedelta(minutes=2)) for n in range(1, 21)],
            1,
        )
    ]
    async with queue_database.engine.begin() as connection:
        await connection.execute(insert(Booking), rows)
    await _serve(queue, queue_database, owner, store_id, timedelta(minutes=2))
    assert (await queue.get(f"/stores/{store_id}")).json()["average_service_minutes"] == 2.0


async def test_the_line_is_shared_among_the_counters_serving(
    queue: httpx.AsyncClient, owner: Account, store_id: str
) -> None:
    served = [await builders.booking(queue, await builders.account(queue), store_id) for _ in range(2)]
    waiting = await builders.account(queue)
    await _waits(queue, store_id, 2)
    mine = await builders.booking(queue, waiting, store_id)
    assert (mine["your_position"], mine["estimated_wait_time"]) == (5, 16)  # 4 ahead, one counter

    async def wait() -> int:
        return (await queue.get(f"/bookings/{mine['id']}", headers=waiting.headers)).json()[
            "estimated_wait_time"
        ]

    await builders.set_status(queue, owner, served[0]["id"], "serving")
    assert await wait() == 12  # 3 ahead, one counter
    await builders.set_status(queue, owner, served[1]["id"], "serving")
    assert await wait() == 4  # 2 ahead, two counters at 4 minutes
