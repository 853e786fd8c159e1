"""A booking's place, readable over HTTP (issue 14 item 5): `GET /bookings/{id}` for its
customer and the store's owner, and the same fields in `my-bookings`."""

import httpx

from tests.apps.queue import builders
from tests.apps.queue.builders import Account

NO_SUCH = "00000000-0000-0000-0000-000000000000"
PLACE = ("id", "queue_number", "status", "your_position", "estimated_wait_time")


async def _place(queue: httpx.AsyncClient, reader: Account, booking_id: str) -> dict:
    response = await queue.get(f"/bookings/{booking_id}", headers=reader.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_customer_and_the_owner_read_the_place_and_no_one_else(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    others = [await builders.account(queue) for _ in range(2)]
    ahead = [await builders.booking(queue, other, store_id) for other in others]
    booking_id = (await builders.book(queue, customer, store_id, notes="靠窗")).json()["id"]
    for reader in (customer, owner):
        body = await _place(queue, reader, booking_id)
        assert {k: body[k] for k in PLACE} == {
            "id": booking_id,
            "queue_number": 3,
            "status": "waiting",
            "your_position": 3,
            "estimated_wait_time": 10,
        }
        assert body["store"] == {
            "id": store_id,
            "name": "阿明理髮店",
            "avatar_url": None,
            "address": body["store"]["address"],
            "contact_email": body["store"]["contact_email"],
        }
        assert body["notes"] == "靠窗"
        assert (body["serving_at"], body["completed_at"], body["cancelled_at"]) == (None, None, None)

    # The first leaves and the second is called: one ahead, served by the one counter.
    await queue.delete(f"/bookings/{ahead[0]['id']}", headers=others[0].headers)
    await builders.set_status(queue, owner, ahead[1]["id"], "serving")
    body = await _place(queue, customer, booking_id)
    assert (body["your_position"], body["estimated_wait_time"]) == (1, 0)
    served = await _place(queue, owner, ahead[1]["id"])
    assert (served["status"], served["your_position"], served["estimated_wait_time"]) == (
        "serving",
        None,
        None,
    )
    assert served["serving_at"] is not None

    # Another user's booking does not exist for them, whether they own a store or not.
    stranger = await builders.account(queue)
    other_owner = await builders.account(queue)
    await builders.store(queue, other_owner)
    for outsider in (stranger, other_owner, others[1]):
        hidden = await queue.get(f"/bookings/{booking_id}", headers=outsider.headers)
        assert hidden.status_code == 404
        assert hidden.json() == {"detail": "Booking not found"}
    assert (await queue.get(f"/bookings/{NO_SUCH}", headers=customer.headers)).status_code == 404
    assert (await queue.get("/bookings/not-an-id", headers=customer.headers)).status_code == 422
    assert (await queue.get(f"/bookings/{booking_id}")).status_code == 401


async def test_my_bookings_carry_each_place(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    busy = await builders.store(queue, owner)
    for _ in range(2):
        await builders.booking(queue, await builders.account(queue), busy)
    first = await builders.booking(queue, customer, store_id)
    second = await builders.booking(queue, customer, busy)
    done = await builders.store(queue, owner)
    third = await builders.booking(queue, customer, done)
    await builders.set_status(queue, owner, third["id"], "cancelled")
    body = (await queue.get("/bookings/my-bookings", headers=customer.headers)).json()
    places = {b["id"]: (b["status"], b["your_position"], b["estimated_wait_time"]) for b in body["bookings"]}
    assert places == {
        first["id"]: ("waiting", 1, 0),
        second["id"]: ("waiting", 3, 10),
        third["id"]: ("cancelled", None, None),
    }
    # The same answer as the booking's own.
    one = await _place(queue, customer, second["id"])
    assert next(b for b in body["bookings"] if b["id"] == second["id"]) == one
