"""The WebSocket as a client sees it: a real server on a port, the `websockets` client."""

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from tests.apps.queue import builders
from tests.apps.queue.conftest import Live


async def receive(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def nothing_more(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.3)


async def test_a_bad_token_closes_with_4401(live: Live) -> None:
    for url in (f"{live.ws_url}?token=nonsense", live.ws_url):
        async with connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


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
        assert {k: v for k, v in owner_event["data"].items() if k != "updated_at"} == {
            "store_id": store_id,
            "current_queue_count": 2,
            "your_position": None,
            "estimated_wait_time": None,
        }
        changed = await receive(first_ws)
        assert changed["event"] == "booking_status_changed"
        assert {k: v for k, v in changed["data"].items() if k != "updated_at"} == {
            "booking_id": bookings[0]["id"],
            "old_status": "waiting",
            "new_status": "serving",
            "message": "您的服務即將開始,請準備前往現場!",
        }
        await nothing_more(first_ws)  # no longer waiting: no queue_updated for them
        for ws, position, wait in ((second_ws, 1, 0), (third_ws, 2, 5)):
            event = await receive(ws)
            assert event["event"] == "queue_updated"
            assert event["data"]["store_id"] == store_id
            assert event["data"]["current_queue_count"] == 2
            assert (event["data"]["your_position"], event["data"]["estimated_wait_time"]) == (position, wait)
            assert isinstance(event["id"], int)
            assert event["data"]["updated_at"] == owner_event["data"]["updated_at"]
    finally:
        for ws in sockets:
            await ws.close()


async def test_new_message_reaches_the_other_participant_only(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner, name="星巴克信義店")
    customer = await builders.account(live.http, name="張小明")
    booking = await builders.booking(live.http, customer, store_id)
    async with (
        connect(f"{live.ws_url}?token={customer.token}") as customer_ws,
        connect(f"{live.ws_url}?token={owner.token}") as owner_ws,
    ):
        sent = await live.http.post(
            f"/chats/{booking['id']}/messages", json={"content": "您的餐點準備好了"}, headers=owner.headers
        )
        assert sent.status_code == 201
        event = await receive(customer_ws)
        assert event["event"] == "new_message"
        assert event["data"]["booking_id"] == booking["id"]
        message = event["data"]["message"]
        assert {k: message[k] for k in ("id", "sender_id", "sender_name", "content")} == {
            "id": sent.json()["id"],
            "sender_id": owner.id,
            "sender_name": "星巴克信義店",
            "content": "您的餐點準備好了",
        }
        await nothing_more(owner_ws)


async def test_a_reconnecting_client_catches_up_with_since(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    store_id = await builders.store(live.http, owner)
    first, second = await builders.account(live.http), await builders.account(live.http)
    a = await builders.booking(live.http, first, store_id)
    await builders.booking(live.http, second, store_id)
    async with connect(f"{live.ws_url}?token={second.token}") as ws:
        await builders.set_status(live.http, owner, a["id"], "serving")
        seen = await receive(ws)
    assert seen["data"]["your_position"] == 1
    # While the second customer is offline: the first's service ends, and the owner writes.
    await builders.set_status(live.http, owner, a["id"], "completed")
    await live.http.post(f"/chats/{a['id']}/messages", json={"content": "bye"}, headers=first.headers)
    b = (await live.http.get("/bookings/my-bookings", headers=second.headers)).json()["bookings"][0]["id"]
    await live.http.post(f"/chats/{b}/messages", json={"content": "next!"}, headers=owner.headers)
    missed = (await live.http.get("/events", params={"since": seen["id"]}, headers=second.headers)).json()
    assert [e["event"] for e in missed["events"]] == ["queue_updated", "new_message"]
    assert missed["last_id"] == missed["events"][-1]["id"]
    async with connect(f"{live.ws_url}?token={second.token}&since={seen['id']}") as ws:
        replayed = [await receive(ws), await receive(ws)]
        assert [(e["id"], e["event"], e["data"]) for e in replayed] == [
            (e["id"], e["event"], e["data"]) for e in missed["events"]
        ]
        assert replayed[1]["data"]["message"]["content"] == "next!"
        await nothing_more(ws)
        # Then live, without repeats.
        await live.http.post(f"/chats/{b}/messages", json={"content": "now"}, headers=owner.headers)
        live_event = await receive(ws)
        assert (live_event["event"], live_event["data"]["message"]["content"]) == ("new_message", "now")
        assert live_event["id"] > replayed[1]["id"]
    everything = (await live.http.get("/events", headers=second.headers)).json()["events"]
    # Joining, the first one's serving, then completion; two messages.
    assert [e["event"] for e in everything] == ["queue_updated"] * 3 + ["new_message"] * 2
    since_time = (
        await live.http.get(
            "/events", params={"since": everything[0]["data"]["updated_at"]}, headers=second.headers
        )
    ).json()["events"]
    assert since_time[0]["id"] == everything[0]["id"]
    # "³" is a digit to str.isdigit but not to int(): schemathesis sent it and got a 500.
    for malformed in ("yesterday", "³"):
        bad = await live.http.get("/events", params={"since": malformed}, headers=second.headers)
        assert bad.status_code == 400, malformed
    assert (await live.http.get("/events")).status_code == 401
