"""Issue 14 item 1: a store's own day. Numbers restart at the store's local midnight, a paused or
closed store refuses bookings, and the end-of-day sweep turns the day's leftovers into no-shows,
once. Time is moved by replacing the clock the store's day is read from (services/days.py)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from keel.apps.queue import DAY_SWEEP
from keel.apps.queue.deps import realtime
from keel.apps.queue.models import SweepLease
from keel.apps.queue.services import day_end, days
from keel.core.db import Database, utcnow
from keel.core.sweeps import Sweeper
from keel.settings import Settings
from tests.apps.queue import builders
from tests.apps.queue.builders import Account


def _set_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(days, "clock", lambda: moment)


async def _status(queue: httpx.AsyncClient, customer: Account) -> list[tuple[int, str]]:
    mine = (await queue.get("/bookings/my-bookings", headers=customer.headers)).json()["bookings"]
    return [(b["queue_number"], b["status"]) for b in mine]


async def test_numbers_restart_at_the_stores_local_midnight_not_utcs(
    queue: httpx.AsyncClient, owner: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    taipei = await builders.store(queue, owner, time_zone="Asia/Taipei")
    utc = await builders.store(queue, owner, time_zone="UTC")
    early, late = await builders.account(queue), await builders.account(queue)
    # 23:59 in Taipei (UTC+8), then its midnight: 16:00 UTC, mid-afternoon of the same UTC day.
    _set_clock(monkeypatch, datetime(2026, 12, 3, 15, 59, tzinfo=UTC))
    before = [await builders.booking(queue, early, store) for store in (taipei, utc)]
    _set_clock(monkeypatch, datetime(2026, 12, 3, 16, 0, tzinfo=UTC))
    after = [await builders.booking(queue, late, store) for store in (taipei, utc)]
    assert [b["queue_number"] for b in before] == [1, 1]
    assert [b["queue_number"] for b in after] == [1, 2]
    # Yesterday's customer, still waiting in Taipei, stays ahead of today's number 1.
    assert [b["your_position"] for b in after] == [2, 2]


async def test_a_store_answers_its_day_and_refuses_a_zone_or_hours_that_are_not(
    queue: httpx.AsyncClient, owner: Account
) -> None:
    hours = {"mon": [["09:00", "12:00"], ["13:00", "24:00"]], "sat": []}
    created = await queue.post(
        "/stores",
        json={"name": "夜市", "time_zone": "Asia/Tokyo", "opening_hours": hours, "end_of_day_no_show": False},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    day = {
        "time_zone": "Asia/Tokyo",
        "opening_hours": hours,
        "accepting_bookings": True,
        "end_of_day_no_show": False,
    }
    assert {k: created.json()[k] for k in day} == day
    store_id = created.json()["id"]
    shown = (await queue.get(f"/stores/{store_id}")).json()
    assert {k: shown[k] for k in day} == day
    changed = await queue.put(
        f"/stores/{store_id}", json={"opening_hours": None, "end_of_day_no_show": None}, headers=owner.headers
    )
    assert (changed.json()["opening_hours"], changed.json()["end_of_day_no_show"]) == (None, None)
    refused: list[dict[str, Any]] = [
        {"time_zone": "Mars/Olympus_Mons"},
        {"time_zone": None},
        {"opening_hours": {"mon": [["18:00", "09:00"]]}},
        {"opening_hours": {"mon": [["9:00", "18:00"]]}},
        {"opening_hours": {"someday": [["09:00", "18:00"]]}},
        {"accepting_bookings": None},
    ]
    for body in refused:
        answer = await queue.put(f"/stores/{store_id}", json=body, headers=owner.headers)
        assert answer.status_code == 422, body
    assert (
        await queue.post("/stores", json={"name": "x", "time_zone": "Nowhere"}, headers=owner.headers)
    ).status_code == 422


async def test_a_paused_store_refuses_bookings_but_stays_listed(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    paused = await queue.put(f"/stores/{store_id}", json={"accepting_bookings": False}, headers=owner.headers)
    assert paused.json()["accepting_bookings"] is False
    refused = await builders.book(queue, customer, store_id)
    assert refused.status_code == 409
    assert refused.json() == {"detail": "This store has paused taking bookings"}
    assert [s["id"] for s in (await queue.get("/stores")).json()["stores"]] == [store_id]
    await queue.put(f"/stores/{store_id}", json={"accepting_bookings": True}, headers=owner.headers)
    assert (await builders.book(queue, customer, store_id)).status_code == 201


async def test_outside_its_opening_hours_a_store_refuses_bookings(
    queue: httpx.AsyncClient, owner: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Wednesdays 09:00-18:00 in Taipei; 2026-12-02 is a Wednesday.
    store_id = await builders.store(queue, owner, opening_hours={"wed": [["09:00", "18:00"]]})
    for moment, expected in [
        (datetime(2026, 12, 2, 0, 59, tzinfo=UTC), 409),  # 08:59
        (datetime(2026, 12, 2, 1, 0, tzinfo=UTC), 201),  # 09:00
        (datetime(2026, 12, 2, 10, 0, tzinfo=UTC), 409),  # 18:00, closing
        (datetime(2026, 12, 3, 2, 0, tzinfo=UTC), 409),  # Thursday 10:00, closed all day
    ]:
        _set_clock(monkeypatch, moment)
        answer = await builders.book(queue, await builders.account(queue), store_id)
        assert answer.status_code == expected, moment
        if expected == 409:
            assert answer.json() == {"detail": "This store is closed at this hour (see its opening_hours)"}


async def test_the_end_of_day_sweep_makes_the_days_waiting_no_show_once(
    queue: httpx.AsyncClient,
    owner: Account,
    queue_database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    follows = await builders.store(queue, owner)  # the deployment's rule: no_show
    keeps = await builders.store(queue, owner, end_of_day_no_show=False)
    left, stays, served, today = [await builders.account(queue) for _ in range(4)]
    with monkeypatch.context() as yesterday:
        _set_clock(yesterday, utcnow() - timedelta(days=1))
        await builders.booking(queue, left, follows)
        await builders.booking(queue, stays, keeps)
        being_served = await builders.booking(queue, served, follows)
        await builders.set_status(queue, owner, being_served["id"], "serving")
    await builders.booking(queue, today, follows)
    # With the deployment's rule off, only stores that ask for it close their day: none here.
    rule_off = settings.model_copy(update={"queue_end_of_day_no_show": False})
    assert await day_end.close_ended_days(queue_database, realtime, rule_off, utcnow()) == 0
    sweeper = Sweeper("queue", SweepLease, [DAY_SWEEP], queue_database, settings)
    await sweeper.run_if_due(DAY_SWEEP)  # the first check anywhere creates the lease row
    await sweeper.run_if_due(DAY_SWEEP)
    assert await _status(queue, left) == [(1, "no_show")]
    assert await _status(queue, stays) == [(1, "waiting")]
    assert await _status(queue, served) == [(2, "serving")]
    assert await _status(queue, today) == [(1, "waiting")]
    assert (await queue.get(f"/stores/{follows}")).json()["current_queue_count"] == 1
    # Closed once: a run after it (or overlapping it) finds nothing left to move.
    assert await day_end.close_ended_days(queue_database, realtime, settings, utcnow()) == 0
