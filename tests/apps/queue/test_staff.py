"""Issue 14 item 4: the store's owner and the staff they add run the line: call next, no-show,
recall, walk-ins. Everyone else is refused."""

from typing import Any

import httpx

from tests.apps.queue import builders
from tests.apps.queue.builders import Account

NO_SUCH = "00000000-0000-0000-0000-000000000000"


async def _call_next(queue: httpx.AsyncClient, who: Account, store_id: str) -> httpx.Response:
    return await queue.post(f"/stores/{store_id}/call-next", headers=who.headers)


async def _walk_in(queue: httpx.AsyncClient, who: Account, store_id: str, name: str) -> httpx.Response:
    return await queue.post(f"/stores/{store_id}/walk-ins", json={"name": name}, headers=who.headers)


async def _events(queue: httpx.AsyncClient, who: Account, name: str) -> list[dict[str, Any]]:
    events = (await queue.get("/events", headers=who.headers)).json()["events"]
    return [e["data"] for e in events if e["event"] == name]


async def test_call_next_serves_the_line_in_order_several_at_once(
    queue: httpx.AsyncClient, owner: Account, store_id: str
) -> None:
    people = [await builders.account(queue, name=f"客人{n}") for n in (1, 2, 3)]
    made = [await builders.booking(queue, p, store_id) for p in people]
    first = await _call_next(queue, owner, store_id)
    assert first.status_code == 200, first.text
    called = first.json()
    assert {k: called[k] for k in ("id", "store_id", "queue_number", "status", "customer")} == {
        "id": made[0]["id"],
        "store_id": store_id,
        "queue_number": 1,
        "status": "serving",
        "customer": {"id": people[0].id, "name": "客人1"},
    }
    # Through the status change: the customer hears it as from PUT /bookings/{id}/status.
    changed = await _events(queue, people[0], "booking_status_changed")
    assert [(e["old_status"], e["new_status"]) for e in changed] == [("waiting", "serving")]
    # The first is still being served; the next counter calls the second.
    assert (await _call_next(queue, owner, store_id)).json()["queue_number"] == 2
    assert (await queue.get(f"/stores/{store_id}")).json()["current_queue_count"] == 1
    assert (await _call_next(queue, owner, store_id)).json()["queue_number"] == 3
    nobody = await _call_next(queue, owner, store_id)
    assert nobody.status_code == 409
    assert nobody.json() == {"detail": "Nobody is waiting at this store"}
    assert (await _call_next(queue, owner, NO_SUCH)).status_code == 404


async def test_a_no_show_is_skipped_and_a_recall_puts_it_back_in_its_place(
    queue: httpx.AsyncClient, owner: Account, store_id: str
) -> None:
    first, second, third = [await builders.account(queue) for _ in range(3)]
    one = await builders.booking(queue, first, store_id)
    await builders.booking(queue, second, store_id)
    await _call_next(queue, owner, store_id)
    skipped = await builders.set_status(queue, owner, one["id"], "no_show")
    assert skipped.status_code == 200
    assert skipped.json()["message"] == "預約狀態已更新為過號"
    assert (await _call_next(queue, owner, store_id)).json()["queue_number"] == 2
    three = await builders.booking(queue, third, store_id)
    assert three["your_position"] == 1
    recalled = await builders.set_status(queue, owner, one["id"], "waiting")
    assert recalled.status_code == 200
    # It keeps number 1, so it stands ahead of number 3 again.
    line = await queue.get(
        "/bookings/received-bookings",
        params={"store_id": store_id, "status": "waiting"},
        headers=owner.headers,
    )
    assert [b["queue_number"] for b in line.json()["bookings"]] == [1, 3]
    assert (await _call_next(queue, owner, store_id)).json()["queue_number"] == 1
    # A customer who took another number after their no-show cannot be recalled into a second place.
    assert (await builders.set_status(queue, owner, three["id"], "no_show")).status_code == 200
    await builders.booking(queue, third, store_id)
    twice = await builders.set_status(queue, owner, three["id"], "waiting")
    assert twice.status_code == 409
    assert twice.json() == {"detail": "This customer is in the store's queue again with another booking"}


async def test_walk_ins_take_numbers_by_name_even_while_the_store_is_paused(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    await builders.booking(queue, customer, store_id)
    await queue.put(f"/stores/{store_id}", json={"accepting_bookings": False}, headers=owner.headers)
    walked = await _walk_in(queue, owner, store_id, "王先生")
    assert walked.status_code == 201, walked.text
    assert (walked.json()["queue_number"], walked.json()["your_position"]) == (2, 2)
    # Two walk-ins at once are two people, not one customer booking twice.
    assert (await _walk_in(queue, owner, store_id, "林小姐")).json()["queue_number"] == 3
    line = await queue.get(
        "/bookings/received-bookings", params={"store_id": store_id}, headers=owner.headers
    )
    assert [b["user"]["name"] for b in line.json()["bookings"]] == ["Customer", "王先生", "林小姐"]
    await _call_next(queue, owner, store_id)
    called = (await _call_next(queue, owner, store_id)).json()
    assert (called["queue_number"], called["customer"]) == (2, {"id": None, "name": "王先生"})
    assert (await _walk_in(queue, customer, store_id, "冒名")).status_code == 403
    assert (await _walk_in(queue, owner, NO_SUCH, "王先生")).status_code == 404
    empty = await queue.post(f"/stores/{store_id}/walk-ins", json={"name": " "}, headers=owner.headers)
    assert empty.status_code == 422


async def test_staff_the_owner_adds_may_run_the_line_and_a_stranger_may_not(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    helper, stranger = await builders.account(queue, name="店員"), await builders.account(queue)
    booking = await builders.booking(queue, customer, store_id)
    refused = await _call_next(queue, stranger, store_id)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only the store's owner or its staff can run its line"}
    assert (await builders.set_status(queue, stranger, booking["id"], "no_show")).status_code == 403

    added = await queue.post(f"/stores/{store_id}/staff", json={"email": helper.email}, headers=owner.headers)
    assert added.status_code == 201, added.text
    assert {k: added.json()[k] for k in ("user_id", "email", "name")} == {
        "user_id": helper.id,
        "email": helper.email,
        "name": "店員",
    }
    listed = await queue.get(f"/stores/{store_id}/staff", headers=helper.headers)
    assert [m["user_id"] for m in listed.json()["staff"]] == [helper.id]
    assert (await _call_next(queue, helper, store_id)).json()["id"] == booking["id"]
    assert (await builders.set_status(queue, helper, booking["id"], "completed")).status_code == 200
    assert (await _walk_in(queue, helper, store_id, "王先生")).status_code == 201
    seen = await queue.get(
        "/bookings/received-bookings", params={"store_id": store_id}, headers=helper.headers
    )
    assert seen.status_code == 200
    # Staff run the line, not the store: they neither add staff nor change it.
    by_staff = await queue.post(
        f"/stores/{store_id}/staff", json={"user_id": stranger.id}, headers=helper.headers
    )
    assert by_staff.status_code == 403
    assert by_staff.json() == {"detail": "Only the store's owner can manage its staff"}
    assert (
        await queue.put(f"/stores/{store_id}", json={"name": "x"}, headers=helper.headers)
    ).status_code == 403

    removed = await queue.delete(f"/stores/{store_id}/staff/{helper.id}", headers=owner.headers)
    assert removed.status_code == 204
    assert (await _call_next(queue, helper, store_id)).status_code == 403
    assert (
        await queue.delete(f"/stores/{store_id}/staff/{helper.id}", headers=owner.headers)
    ).status_code == 404


async def test_adding_staff_refuses_unknown_users_the_owner_and_repeats(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    url = f"/stores/{store_id}/staff"
    unknown = await queue.post(url, json={"email": "nobody@example.com"}, headers=owner.headers)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "No user with that email"})
    assert (await queue.post(url, json={"user_id": NO_SUCH}, headers=owner.headers)).status_code == 404
    itself = await queue.post(url, json={"user_id": owner.id}, headers=owner.headers)
    assert (itself.status_code, itself.json()) == (409, {"detail": "The owner already runs this store"})
    assert (await queue.post(url, json={"user_id": customer.id}, headers=owner.headers)).status_code == 201
    again = await queue.post(url, json={"email": customer.email.upper()}, headers=owner.headers)
    assert again.status_code == 409
    for body in ({}, {"email": customer.email, "user_id": customer.id}):
        assert (await queue.post(url, json=body, headers=owner.headers)).status_code == 422
    assert (await queue.get(f"/stores/{NO_SUCH}/staff", headers=owner.headers)).status_code == 404
    assert (await queue.get(url, headers=await _stranger(queue))).status_code == 403


async def _stranger(queue: httpx.AsyncClient) -> dict[str, str]:
    return (await builders.account(queue)).headers
