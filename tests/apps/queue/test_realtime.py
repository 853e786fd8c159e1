"""The WebSocket as a client sees it: a real server on a port, the `websockets` client."""

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import websockets
from sqlalchemy import delete, func, select
from websockets.asyncio.client import ClientConnection, connect

from keel.apps.queue.deps import realtime
from keel.apps.queue.models import Event, User
from keel.apps.queue.services import day_end, days
from keel.core.db import Database, utcnow
from keel.core.realtime import Hub
from keel.core.realtime import hub as hub_module
from keel.core.sweeps import Sweeper
from keel.settings import Settings
from tests.apps.queue import builders
from tests.apps.queue.builders import Account
from tests.apps.queue.conftest import Live


async def receive(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def nothing_more(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.3)


async def closed_with(url: str) -> int:
    async with connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def without_time(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "updated_at"}


async def test_a_bad_token_closes_with_4401_and_an_unknown_store_with_4404(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    for url in (
        f"{live.ws_url}?token=nonsense",
        live.ws_url,
        f"{live.ws_url}?token=nonsense&store_id={store_id}",
    ):
        assert await closed_with(url) == 4401, url
    for store in ("00000000-0000-0000-0000-000000000000", "not-a-store"):
        assert await closed_with(f"{live.ws_url}?store_id={store}") == 4404, store
    assert await closed_with(f"{live.ws_url}?token={owner.token}&since=yesterday") == 4422


async def test_queue_updated_gives_each_customer_their_own_position(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner, name="Barber")
    people = [await builders.account(live.http) for _ in range(3)]
    bookings = [await builders.booking(live.http, p, store_id) for p in people]
    sockets = [await connect(f"{live.ws_url}?token={a.token}").__aenter__() for a in (owner, *people)]
    try:
        response = await builders.set_status(live.http, owner, bookings[0]["id"], "serving")
        assert response.status_code == 200
        owner_ws, first_ws, second_ws, third_ws = sockets
        owner_event = await receive(owner_ws)
        assert owner_event["event"] == "queue_updated"
        assert without_time(owner_event["data"]) == {
            "store_id": store_id,
            "current_queue_count": 2,
            "your_position": None,
            "estimated_wait_time": None,
        }
        changed = await receive(first_ws)
        assert changed["event"] == "booking_status_changed"
        assert without_time(changed["data"]) == {
            "booking_id": bookings[0]["id"],
            "old_status": "waiting",
            "new_status": "serving",
            "message": "您的服務即將開始,請準備前往現場!",
        }
        await nothing_more(first_ws)  # no longer waiting: no queue_updated for them
        for ws, position, wait in ((second_ws, 1, 0), (third_ws, 2, 5)):
            event = await receive(ws)
            assert event["event"] == "queue_updated"
            assert list(event["data"]) == [
                "store_id",
                "current_queue_count",
                "your_position",
                "estimated_wait_time",
                "updated_at",
            ]
            assert event["data"]["store_id"] == store_id
            assert event["data"]["current_queue_count"] == 2
            assert (event["data"]["your_position"], event["data"]["estimated_wait_time"]) == (position, wait)
            assert event["data"]["updated_at"] == owner_event["data"]["updated_at"]
            await nothing_more(ws)
    finally:
        for ws in sockets:
            await ws.close()


async def test_one_stored_event_per_store_change_rendered_for_each_customer(
    live: Live, queue_database: Database
) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    people = [await builders.account(live.http) for _ in range(5)]
    bookings = [await builders.booking(live.http, p, store_id) for p in people]
    sockets = [await connect(f"{live.ws_url}?token={p.token}").__aenter__() for p in people]

    async def stored() -> int:
        async with queue_database.sessionmaker() as session:
            return (await session.execute(select(func.count()).select_from(Event))).scalar_one()

    try:
        before = await stored()
        # The third leaves: those behind move up, those ahead stay.
        assert (
            await live.http.delete(f"/bookings/{bookings[2]['id']}", headers=people[2].headers)
        ).status_code == 200
        # One for the store, one booking_status_changed each for the customer and the owner:
        # not one per customer in the line.
        assert await stored() == before + 3
        expected = {0: 1, 1: 2, 3: 3, 4: 4}
        for n, position in expected.items():
            event = await receive(sockets[n])
            assert event["event"] == "queue_updated"
            data = event["data"]
            assert (data["current_queue_count"], data["your_position"]) == (4, position), n
            assert data["estimated_wait_time"] == (position - 1) * 5
        left = await receive(sockets[2])
        assert (left["event"], left["data"]["new_status"]) == ("booking_status_changed", "cancelled")
        await nothing_more(sockets[2])
    finally:
        for ws in sockets:
            await ws.close()


async def test_positions_skip_the_holes_in_a_line_and_numbers_whose_booking_is_gone(
    live: Live, queue_database: Database
) -> None:
    """Cancellations in the middle leave holes between the first and last waiting number; a
    customer erased with their bookings leaves a number with no row at all. Every socket's
    position still counts only those waiting ahead of it."""
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    people = [await builders.account(live.http) for _ in range(7)]
    bookings = [await builders.booking(live.http, p, store_id) for p in people]
    await live.http.delete(f"/bookings/{bookings[2]['id']}", headers=people[2].headers)
    async with queue_database.sessionmaker() as session, session.begin():
        await session.execute(delete(User).where(User.id == uuid.UUID(people[4].id)))
    last = people[6]
    async with connect(f"{live.ws_url}?token={last.token}") as ws:
        await builders.set_status(live.http, owner, bookings[0]["id"], "serving")
        event = await receive(ws)
        # Ahead of the seventh: the second, fourth and sixth (the first is being served, the
        # third cancelled, the fifth gone with its customer).
        assert (event["event"], event["data"]["your_position"]) == ("queue_updated", 4)
        assert event["data"]["current_queue_count"] == 4


async def test_the_store_owner_hears_booking_status_changed(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    customer = await builders.account(live.http)
    booking = await builders.booking(live.http, customer, store_id)
    async with connect(f"{live.ws_url}?token={owner.token}") as owner_ws:
        await builders.set_status(live.http, owner, booking["id"], "serving")
        await builders.set_status(live.http, owner, booking["id"], "completed")
        events = [await receive(owner_ws) for _ in range(4)]
        changes = [e["data"] for e in events if e["event"] == "booking_status_changed"]
        assert [(c["booking_id"], c["old_status"], c["new_status"]) for c in changes] == [
            (booking["id"], "waiting", "serving"),
            (booking["id"], "serving", "completed"),
        ]
        assert changes[1]["message"] == "服務已完成,謝謝您的光臨!"
        assert [e["event"] for e in events].count("queue_updated") == 2
        await nothing_more(owner_ws)


async def test_anyone_can_watch_a_store_without_a_token(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    other_store = await builders.store(live.http, owner)
    first, second = await builders.account(live.http), await builders.account(live.http)
    async with (
        connect(f"{live.ws_url}?store_id={store_id}") as watcher,
        connect(f"{live.ws_url}?token={second.token}&store_id={store_id}") as joining,
    ):
        await builders.booking(live.http, first, other_store)  # another store: not heard
        await builders.booking(live.http, first, store_id)
        event = await receive(watcher)
        assert event["event"] == "queue_updated"
        assert without_time(event["data"]) == {"store_id": store_id, "current_queue_count": 1}
        assert set(event["data"]) == {"store_id", "current_queue_count", "updated_at"}
        assert without_time((await receive(joining))["data"]) == {
            "store_id": store_id,
            "current_queue_count": 1,
        }
        # The watcher who takes a number is in the line from then on: their own place.
        await builders.booking(live.http, second, store_id)
        mine = (await receive(joining))["data"]
        assert (mine["current_queue_count"], mine["your_position"], mine["estimated_wait_time"]) == (2, 2, 5)
        assert without_time((await receive(watcher))["data"]) == {
            "store_id": store_id,
            "current_queue_count": 2,
        }
        await nothing_more(watcher)
    paused = await live.http.put(f"/stores/{store_id}", json={"is_active": False}, headers=owner.headers)
    assert paused.status_code == 200, paused.text
    assert await closed_with(f"{live.ws_url}?store_id={store_id}") == 4401
    async with connect(f"{live.ws_url}?token={first.token}&store_id={store_id}") as signed_in:
        await nothing_more(signed_in)  # open: a signed-in user may watch a paused store


async def _history(live: Live, owner: Account) -> tuple[str, Account, Account, dict[str, Any]]:
    store_id = await builders.store(live.http, owner)
    first, second = await builders.account(live.http), await builders.account(live.http)
    a = await builders.booking(live.http, first, store_id)
    await builders.booking(live.http, second, store_id)
    return store_id, first, second, a


async def test_a_reconnecting_client_receives_each_missed_event_once_in_order(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id, _first, second, a = await _history(live, owner)
    async with connect(f"{live.ws_url}?token={second.token}") as ws:
        await builders.set_status(live.http, owner, a["id"], "serving")
        seen = await receive(ws)
    assert seen["data"]["your_position"] == 1
    # While the second customer is offline: two more join behind, the first's service ends,
    # and the owner writes twice.
    for _ in range(2):
        await builders.booking(live.http, await builders.account(live.http), store_id)
    await builders.set_status(live.http, owner, a["id"], "completed")
    b = (await live.http.get("/bookings/my-bookings", headers=second.headers)).json()["bookings"][0]["id"]
    for text in ("next!", "are you there?"):
        await live.http.post(f"/chats/{b}/messages", json={"content": text}, headers=owner.headers)
    missed = (await live.http.get("/events", params={"since": seen["id"]}, headers=second.headers)).json()
    # Of the line's three changes only the last: each is the line's whole state. Every message.
    assert [(e["event"], e["data"].get("current_queue_count")) for e in missed["events"]] == [
        ("queue_updated", 3),
        ("new_message", None),
        ("new_message", None),
    ]
    assert missed["last_id"] == missed["events"][-1]["id"]
    async with connect(f"{live.ws_url}?token={second.token}&since={seen['id']}") as ws:
        replayed = [await receive(ws) for _ in missed["events"]]
        assert replayed == missed["events"]
        assert [e["data"]["message"]["content"] for e in replayed[1:]] == ["next!", "are you there?"]
        await nothing_more(ws)
        # Then live, without repeats; its cursor moves on from the last replayed one.
        await live.http.post(f"/chats/{b}/messages", json={"content": "now"}, headers=owner.headers)
        live_event = await receive(ws)
        assert (live_event["event"], live_event["data"]["message"]["content"]) == ("new_message", "now")
        await nothing_more(ws)
    after_live = (
        await live.http.get("/events", params={"since": live_event["id"]}, headers=second.headers)
    ).json()
    assert after_live["events"] == []
    assert after_live["last_id"] == live_event["id"]


async def test_a_line_stored_before_spans_replays_with_the_right_position(
    live: Live, queue_database: Database
) -> None:
    """Events of the week before a deploy wrote the line as every waiting number per day."""
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    first, second = await builders.account(live.http), await builders.account(live.http)
    await builders.booking(live.http, first, store_id)
    mine = await builders.booking(live.http, second, store_id)
    assert (await live.http.get(f"/bookings/{mine['id']}", headers=second.headers)).json()[
        "your_position"
    ] == 2
    day = days.local_day("Asia/Taipei", utcnow()).isoformat()  # the store's day (its default zone)
    cursor = (await live.http.get("/events", headers=second.headers)).json()["last_id"]
    seq = int(cursor.rpartition(":")[2])
    async with queue_database.sessionmaker() as session, session.begin():
        session.add(
            Event(
                channel=f"store/{store_id}",
                seq=seq + 1,
                name="queue_updated",
                data={
                    "store_id": store_id,
                    "current_queue_count": 2,
                    "updated_at": utcnow().isoformat(),
                    "line": [[day, [1, 2]]],
                    "minutes": 5,
                    "left": owner.id,
                },
                created_at=utcnow(),
            )
        )
    replayed = (await live.http.get("/events", params={"since": cursor}, headers=second.headers)).json()
    assert [(e["event"], e["data"]["your_position"]) for e in replayed["events"]] == [("queue_updated", 2)]


async def test_events_since_accepts_a_time_and_an_old_numeric_position(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    _store, _first, second, a = await _history(live, owner)
    await builders.set_status(live.http, owner, a["id"], "serving")
    b = (await live.http.get("/bookings/my-bookings", headers=second.headers)).json()["bookings"][0]["id"]
    for text in ("one", "two"):
        await live.http.post(f"/chats/{b}/messages", json={"content": text}, headers=owner.headers)
    everything = (await live.http.get("/events", headers=second.headers)).json()["events"]
    # The line they stand in as it is now (its latest state), then their own stream.
    assert [(e["event"], e["data"].get("your_position")) for e in everything] == [
        ("queue_updated", 1),
        ("new_message", None),
        ("new_message", None),
    ]
    since_time = (
        await live.http.get(
            "/events", params={"since": everything[0]["data"]["updated_at"]}, headers=second.headers
        )
    ).json()["events"]
    assert since_time == everything
    # A bare number is a position on the user's own stream (the earlier design's single id).
    own = (await live.http.get("/events", params={"since": "1"}, headers=second.headers)).json()["events"]
    assert [e["event"] for e in own] == ["queue_updated", "new_message"]
    assert own[-1]["data"]["message"]["content"] == "two"
    # "³" is a digit to str.isdigit but not to int(): schemathesis sent it and got a 500.
    for malformed in ("yesterday", "³", "me:x", "me:1,,"):
        bad = await live.http.get("/events", params={"since": malformed}, headers=second.headers)
        assert bad.status_code == 400, malformed
    assert (await live.http.get("/events")).status_code == 401


async def test_events_published_out_of_order_reach_a_socket_in_order_once(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes may publish a channel's events in another order than they committed: the
    process holds the ones that overtook another until it comes, then hands them out in order;
    the socket, handed three states of the line at once, sends only the latest."""
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    watcher = await builders.account(live.http)
    held: list[tuple[Hub, list[Any]]] = []
    publish = Hub.publish

    async def hold(hub: Hub, events: Any) -> None:
        held.append((hub, list(events)))

    async with connect(f"{live.ws_url}?token={watcher.token}&store_id={store_id}") as ws:
        monkeypatch.setattr(Hub, "publish", hold)
        for _ in range(3):
            await builders.booking(live.http, await builders.account(live.http), store_id)
        monkeypatch.setattr(Hub, "publish", publish)
        for hub, events in reversed(held):
            await hub.publish(events)
        latest = await receive(ws)
        assert latest["data"]["current_queue_count"] == 3
        assert latest["id"].endswith(f"store/{store_id}:3")
        await nothing_more(ws)


async def test_a_busy_line_reaches_a_socket_as_its_latest_state_at_most_once_an_interval(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first change after a quiet moment leaves at once; while changes keep coming closer
    than the busy gap, those within the interval after a frame leave as one, the line as it is
    then (both stretched so the test's own bookings surely fall inside them)."""
    monkeypatch.setattr(hub_module, "BUSY_GAP_SECONDS", 10.0)
    monkeypatch.setattr(hub_module, "STATE_INTERVAL_SECONDS", 2.0)
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    async with connect(f"{live.ws_url}?store_id={store_id}") as watcher:
        for _ in range(3):
            await builders.booking(live.http, await builders.account(live.http), store_id)
        first = await receive(watcher)
        latest = await receive(watcher)
        assert [first["data"]["current_queue_count"], latest["data"]["current_queue_count"]] == [1, 3]
        assert latest["id"].endswith(f"store/{store_id}:3")
        await nothing_more(watcher)


async def test_a_quiet_line_reaches_a_socket_with_every_change_at_once(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes further apart than the busy gap are each sent as they come, however soon after
    the previous frame: a status change after a pause reaches everyone without waiting."""
    monkeypatch.setattr(hub_module, "BUSY_GAP_SECONDS", 0.0)
    monkeypatch.setattr(hub_module, "STATE_INTERVAL_SECONDS", 60.0)
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    async with connect(f"{live.ws_url}?store_id={store_id}") as watcher:
        counts = []
        for _ in range(3):
            await builders.booking(live.http, await builders.account(live.http), store_id)
            counts.append((await receive(watcher))["data"]["current_queue_count"])
        assert counts == [1, 2, 3]


@pytest.fixture
def no_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The served app runs no sweeps of its own (requested before `live`): the test runs the
    day's end itself, at the moment it chooses."""
    monkeypatch.setattr(Sweeper, "start", lambda _self: None)


async def test_the_end_of_a_stores_day_is_heard_by_its_customers_owner_and_watchers(
    no_sweeps: None, live: Live, queue_database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    late, today = await builders.account(live.http), await builders.account(live.http)
    with monkeypatch.context() as yesterday:
        yesterday.setattr(days, "clock", lambda: utcnow() - timedelta(days=1))
        missed = await builders.booking(live.http, late, store_id)
    await builders.booking(live.http, today, store_id)
    urls = (f"?token={late.token}", f"?token={owner.token}", f"?store_id={store_id}", f"?token={today.token}")
    sockets = [await connect(live.ws_url + url).__aenter__() for url in urls]
    try:
        assert await day_end.close_ended_days(queue_database, realtime, settings, utcnow()) == 1
        customer, owners, watcher, behind = sockets
        no_show = {
            "booking_id": missed["id"],
            "old_status": "waiting",
            "new_status": "no_show",
            "message": "您已過號,如需服務請聯絡店家",
        }
        assert without_time((await receive(customer))["data"]) == no_show
        # The owner: the line (its channel first), then the move.
        line, changed = await receive(owners), await receive(owners)
        assert (line["event"], line["data"]["current_queue_count"]) == ("queue_updated", 1)
        assert (changed["event"], without_time(changed["data"])) == ("booking_status_changed", no_show)
        assert without_time((await receive(watcher))["data"]) == {
            "store_id": store_id,
            "current_queue_count": 1,
        }
        moved_up = (await receive(behind))["data"]
        assert (moved_up["your_position"], moved_up["estimated_wait_time"]) == (1, 0)
        # The one who missed their day left the line: no more of its changes.
        await builders.booking(live.http, await builders.account(live.http), store_id)
        assert (await receive(watcher))["data"]["current_queue_count"] == 2
        await nothing_more(customer)
    finally:
        for ws in sockets:
            await ws.close()


async def test_a_client_without_a_cursor_starts_live(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    await builders.booking(live.http, await builders.account(live.http), store_id)
    async with connect(f"{live.ws_url}?token={owner.token}") as ws:
        await nothing_more(ws)
        await builders.booking(live.http, await builders.account(live.http), store_id)
        assert (await receive(ws))["data"]["current_queue_count"] == 2
