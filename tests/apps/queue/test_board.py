"""Issue 15 item 5: what the console's counter board reads: the stores a user runs
(`GET /stores/mine`) and one store's line by name (`GET /stores/{id}/board`), and the staff's
socket hearing the line as the owner's does."""

import httpx
from websockets.asyncio.client import connect

from tests.apps.queue import builders
from tests.apps.queue.builders import Account
from tests.apps.queue.conftest import Live
from tests.apps.queue.test_realtime import nothing_more, receive

NO_SUCH = "00000000-0000-0000-0000-000000000000"


async def test_my_stores_lists_what_the_user_owns_or_staffs_and_nothing_for_a_customer(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    other_owner = await builders.account(queue)
    staffed = await builders.store(queue, other_owner, name="Coffee")
    added = await queue.post(
        f"/stores/{staffed}/staff", json={"email": owner.email}, headers=other_owner.headers
    )
    assert added.status_code == 201, added.text
    await builders.booking(queue, customer, store_id)
    closed = await queue.put(f"/stores/{store_id}", json={"accepting_bookings": False}, headers=owner.headers)
    assert closed.status_code == 200

    mine = await queue.get("/stores/mine", headers=owner.headers)
    assert mine.status_code == 200, mine.text
    stores = mine.json()["stores"]
    assert [(s["id"], s["name"], s["role"]) for s in stores] == [
        (store_id, "阿明理髮店", "owner"),
        (staffed, "Coffee", "staff"),
    ]
    assert stores[0]["current_queue_count"] == 1
    assert stores[0]["accepting_bookings"] is False and stores[0]["is_active"] is True
    assert stores[0]["time_zone"] == "Asia/Taipei"
    assert (await queue.get("/stores/mine", headers=customer.headers)).json() == {"stores": []}
    assert (await queue.get("/stores/mine")).status_code == 401
    # Still a store's own page beside it.
    assert (await queue.get(f"/stores/{store_id}")).json()["name"] == "阿明理髮店"


async def test_the_board_shows_the_line_by_name_with_places_and_waits(
    queue: httpx.AsyncClient, owner: Account, store_id: str
) -> None:
    await queue.put(f"/stores/{store_id}", json={"default_service_minutes": 10}, headers=owner.headers)
    people = [await builders.account(queue, name=f"客人{n}") for n in (1, 2, 3)]
    made = [await builders.booking(queue, p, store_id) for p in people]
    walked = await queue.post(
        f"/stores/{store_id}/walk-ins", json={"name": "王先生", "notes": "兩位"}, headers=owner.headers
    )
    assert walked.status_code == 201
    await queue.post(f"/stores/{store_id}/call-next", headers=owner.headers)
    await builders.set_status(queue, owner, made[1]["id"], "no_show")

    answer = await queue.get(f"/stores/{store_id}/board", headers=owner.headers)
    assert answer.status_code == 200, answer.text
    board = answer.json()
    assert {k: board["store"][k] for k in ("id", "name", "role", "accepting_bookings", "is_active")} == {
        "id": store_id,
        "name": "阿明理髮店",
        "role": "owner",
        "accepting_bookings": True,
        "is_active": True,
    }
    # One counter at work: each person ahead adds the store's ten minutes.
    assert board["store"]["minutes_per_person"] == 10
    assert [(b["queue_number"], b["customer"]["name"], b["status"]) for b in board["serving"]] == [
        (1, "客人1", "serving")
    ]
    assert board["serving"][0]["serving_at"] is not None
    assert board["serving"][0]["customer"] == {"id": people[0].id, "name": "客人1", "email": people[0].email}
    waiting = board["waiting"]
    assert [(b["queue_number"], b["position"], b["estimated_wait_time"]) for b in waiting] == [
        (3, 1, 0),
        (4, 2, 10),
    ]
    assert waiting[1]["customer"] == {"id": None, "name": "王先生", "email": None}
    assert (waiting[1]["walk_in"], waiting[1]["notes"]) == (True, "兩位")
    assert board["waiting_total"] == 2
    assert [(b["queue_number"], b["status"]) for b in board["no_shows"]] == [(2, "no_show")]
    assert board["no_shows"][0]["queue_day"] == board["store"]["today"]

    first = await queue.get(f"/stores/{store_id}/board", params={"limit": 1}, headers=owner.headers)
    assert [b["queue_number"] for b in first.json()["waiting"]] == [3]
    assert first.json()["waiting_total"] == 2


async def test_the_board_is_for_the_owner_and_staff_only(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    await builders.booking(queue, customer, store_id)
    refused = await queue.get(f"/stores/{store_id}/board", headers=customer.headers)
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "Only the store's owner or its staff can run its line"},
    )
    assert (await queue.get(f"/stores/{NO_SUCH}/board", headers=owner.headers)).status_code == 404
    assert (await queue.get(f"/stores/{store_id}/board")).status_code == 401
    bad = await queue.get(f"/stores/{store_id}/board", params={"limit": 0}, headers=owner.headers)
    assert bad.status_code == 400
    helper = await builders.account(queue, name="店員")
    await queue.post(f"/stores/{store_id}/staff", json={"user_id": helper.id}, headers=owner.headers)
    seen = await queue.get(f"/stores/{store_id}/board", headers=helper.headers)
    assert seen.status_code == 200
    assert seen.json()["store"]["role"] == "staff"
    assert [b["customer"]["name"] for b in seen.json()["waiting"]] == ["Customer"]


async def test_the_staffs_socket_hears_the_line_it_runs(live: Live) -> None:
    owner = await builders.account(live.http, name="Owner")
    helper = await builders.account(live.http, name="店員")
    store_id = await builders.store(live.http, owner)
    await live.http.post(f"/stores/{store_id}/staff", json={"user_id": helper.id}, headers=owner.headers)
    customer = await builders.account(live.http)
    async with connect(f"{live.ws_url}?token={helper.token}") as ws:
        await builders.booking(live.http, customer, store_id)
        heard = await receive(ws)
        assert heard["event"] == "queue_updated"
        assert heard["data"]["store_id"] == store_id
        assert heard["data"]["current_queue_count"] == 1
        # As the owner hears it: nobody's place.
        assert heard["data"]["your_position"] is None
        assert f"store/{store_id}:" in heard["id"]
        await nothing_more(ws)


async def test_chats_name_the_booking_s_number_and_status_and_leave_out_walk_ins(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    booking = await builders.booking(queue, customer, store_id)
    walked = await queue.post(f"/stores/{store_id}/walk-ins", json={"name": "王先生"}, headers=owner.headers)
    assert walked.status_code == 201
    await queue.post(f"/stores/{store_id}/call-next", headers=owner.headers)
    rooms = (await queue.get("/chats", headers=owner.headers)).json()["chats"]
    assert [(r["booking_id"], r["queue_number"], r["booking_status"]) for r in rooms] == [
        (booking["id"], 1, "serving")
    ]
    mine = (await queue.get("/chats", headers=customer.headers)).json()["chats"]
    assert [(r["queue_number"], r["booking_status"]) for r in mine] == [(1, "serving")]
