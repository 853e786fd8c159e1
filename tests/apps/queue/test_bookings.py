from datetime import timedelta

import httpx
import orjson
from sqlalchemy import insert

from keel.apps.queue.models import IdempotencyKey
from keel.core.db import Database, utcnow
from keel.core.idempotency import request_hash
from tests.apps.queue import builders
from tests.apps.queue.builders import Account

NO_SUCH = "00000000-0000-0000-0000-000000000000"


async def test_bookings_number_from_1_and_estimate_five_minutes_per_person_ahead(
    queue: httpx.AsyncClient, store_id: str
) -> None:
    customers = [await builders.account(queue) for _ in range(3)]
    answers = [await builders.booking(queue, c, store_id) for c in customers]
    assert [(a["queue_number"], a["your_position"], a["estimated_wait_time"]) for a in answers] == [
        (1, 1, 0),
        (2, 2, 5),
        (3, 3, 10),
    ]
    assert answers[2]["message"] == "預約成功!您是第3號,預估等待時間10分鐘"
    assert (await queue.get(f"/stores/{store_id}")).json()["current_queue_count"] == 3


async def test_booking_errors(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    assert (await queue.post("/bookings", json={"store_id": store_id})).status_code == 401
    missing = await builders.book(queue, customer, NO_SUCH)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Store not found"}
    assert (
        await queue.post("/bookings", json={"store_id": "x"}, headers=customer.headers)
    ).status_code == 422
    first = await builders.book(queue, customer, store_id, notes="靠窗")
    assert first.status_code == 201
    twice = await builders.book(queue, customer, store_id)
    assert twice.status_code == 409
    assert twice.json() == {"detail": "You are already in this store's queue"}
    # Being served still counts as in the queue; completed does not.
    await builders.set_status(queue, owner, first.json()["id"], "serving")
    assert (await builders.book(queue, customer, store_id)).status_code == 409
    await builders.set_status(queue, owner, first.json()["id"], "completed")
    again = await builders.book(queue, customer, store_id)
    assert again.status_code == 201
    assert again.json()["queue_number"] == 2
    await queue.put(f"/stores/{store_id}", json={"is_active": False}, headers=owner.headers)
    closed = await builders.book(queue, await builders.account(queue), store_id)
    assert closed.status_code == 409
    assert closed.json() == {"detail": "This store's queue is closed"}


async def test_my_bookings_lists_newest_first_with_the_store(
    queue: httpx.AsyncClient, owner: Account, customer: Account
) -> None:
    stores = [
        await builders.store(queue, owner, name=f"S{n}", avatar_url=f"https://x.test/{n}.png")
        for n in range(3)
    ]
    made = [await builders.booking(queue, customer, s) for s in stores]
    await builders.set_status(queue, owner, made[0]["id"], "cancelled")
    response = await queue.get("/bookings/my-bookings", headers=customer.headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["current_page"]) == (3, 1)
    assert [b["id"] for b in body["bookings"]] == [m["id"] for m in reversed(made)]
    assert body["bookings"][0]["store"] == {
        "id": stores[2],
        "name": "S2",
        "avatar_url": "https://x.test/2.png",
        "address": body["bookings"][0]["store"]["address"],
        "contact_email": body["bookings"][0]["store"]["contact_email"],
    }
    assert body["bookings"][0]["status"] == "waiting"
    waiting = (
        await queue.get(
            "/bookings/my-bookings", params={"status": "waiting", "limit": 1}, headers=customer.headers
        )
    ).json()
    assert (waiting["total"], len(waiting["bookings"])) == (2, 1)
    page2 = (
        await queue.get("/bookings/my-bookings", params={"page": 2, "limit": 2}, headers=customer.headers)
    ).json()
    assert ([b["id"] for b in page2["bookings"]], page2["current_page"]) == ([made[0]["id"]], 2)
    cancelled = (
        await queue.get("/bookings/my-bookings", params={"status": "cancelled"}, headers=customer.headers)
    ).json()
    assert [b["status"] for b in cancelled["bookings"]] == ["cancelled"]
    assert (
        await queue.get("/bookings/my-bookings", params={"status": "lost"}, headers=customer.headers)
    ).status_code == 400
    assert (await queue.get("/bookings/my-bookings")).status_code == 401


async def test_received_bookings_are_for_owners_only(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    other_store = await builders.store(queue, owner)
    a = await builders.booking(queue, customer, store_id)
    second = await builders.account(queue, name="Second")
    b = await builders.booking(queue, second, store_id)
    c = await builders.booking(queue, second, other_store)
    mine = await queue.get(
        "/bookings/received-bookings", params={"store_id": store_id}, headers=owner.headers
    )
    assert mine.status_code == 200
    body = mine.json()
    assert (body["total"], body["current_page"]) == (2, 1)
    assert [x["id"] for x in body["bookings"]] == [a["id"], b["id"]]
    assert body["bookings"][0]["user"] == {
        "id": customer.id,
        "name": "Customer",
        "avatar_url": None,
        "email": customer.email,
    }
    assert body["bookings"][0]["queue_number"] == 1
    every = (await queue.get("/bookings/received-bookings", headers=owner.headers)).json()
    assert {x["id"] for x in every["bookings"]} == {a["id"], b["id"], c["id"]}
    await builders.set_status(queue, owner, a["id"], "serving")
    serving = (
        await queue.get("/bookings/received-bookings", params={"status": "serving"}, headers=owner.headers)
    ).json()
    assert [x["id"] for x in serving["bookings"]] == [a["id"]]
    not_owner = await queue.get("/bookings/received-bookings", headers=customer.headers)
    assert not_owner.status_code == 403
    assert not_owner.json() == {"detail": "You own no store"}
    others = await queue.get(
        "/bookings/received-bookings", params={"store_id": store_id}, headers=customer.headers
    )
    assert others.status_code == 403
    assert (
        await queue.get("/bookings/received-bookings", params={"store_id": NO_SUCH}, headers=owner.headers)
    ).status_code == 404


async def test_status_moves_and_the_ones_refused(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    booking = await builders.booking(queue, customer, store_id)
    assert (await builders.set_status(queue, customer, booking["id"], "serving")).status_code == 403
    assert (await builders.set_status(queue, owner, NO_SUCH, "serving")).status_code == 404
    assert (await builders.set_status(queue, owner, booking["id"], "done")).status_code == 422
    skip = await builders.set_status(queue, owner, booking["id"], "completed")
    assert skip.status_code == 409
    assert skip.json() == {
        "detail": "A waiting booking cannot become completed; it can become cancelled or no_show or serving"
    }
    serving = await builders.set_status(queue, owner, booking["id"], "serving")
    assert serving.status_code == 200
    assert serving.json()["message"] == "預約狀態已更新為服務中"
    back = await builders.set_status(queue, owner, booking["id"], "waiting")
    assert back.status_code == 409
    done = await builders.set_status(queue, owner, booking["id"], "completed")
    assert done.json()["message"] == "預約狀態已更新為已完成"
    final = await builders.set_status(queue, owner, booking["id"], "cancelled")
    assert final.status_code == 409
    assert final.json() == {"detail": "A completed booking cannot become cancelled; it is final"}


async def test_the_booker_cancels_and_the_people_behind_move_up(
    queue: httpx.AsyncClient, owner: Account, store_id: str
) -> None:
    people = [await builders.account(queue) for _ in range(3)]
    made = [await builders.booking(queue, p, store_id) for p in people]
    assert (await queue.delete(f"/bookings/{made[0]['id']}", headers=people[1].headers)).status_code == 403
    assert (await queue.delete(f"/bookings/{made[0]['id']}", headers=owner.headers)).status_code == 403
    assert (await queue.delete(f"/bookings/{NO_SUCH}", headers=people[0].headers)).status_code == 404
    assert (await queue.delete(f"/bookings/{made[0]['id']}")).status_code == 401
    cancelled = await queue.delete(f"/bookings/{made[0]['id']}", headers=people[0].headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["message"] == "預約已成功取消"
    assert "cancelled_at" in cancelled.json()
    again = await queue.delete(f"/bookings/{made[0]['id']}", headers=people[0].headers)
    assert again.status_code == 409
    assert again.json() == {"detail": "A cancelled booking cannot be cancelled"}
    assert (await queue.get(f"/stores/{store_id}")).json()["current_queue_count"] == 2
    positions = (await queue.get("/notifications", headers=people[2].headers)).json()["notifications"]
    assert positions[0]["type"] == "queue_updated"
    assert positions[0]["content"] == "您在阿明理髮店的排隊號碼已前進到第2位!"
    # The owner hears of the cancellation.
    owner_notes = (await queue.get("/notifications", headers=owner.headers)).json()["notifications"]
    assert owner_notes[0]["type"] == "booking_cancelled"
    assert owner_notes[0]["content"] == "第1號取消了預約"


async def test_a_retried_booking_answers_the_same_booking(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    body = {"store_id": store_id, "notes": "靠窗"}
    first = await queue.post("/bookings", json=body, headers={**customer.headers, "Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    # The retry after a lost answer: the same booking, not "already in this queue".
    again = await queue.post("/bookings", json=body, headers={**customer.headers, "Idempotency-Key": "k-1"})
    assert (again.status_code, again.json()) == (201, first.json())
    # The older header name is the same key.
    older = await queue.post("/bookings", json=body, headers={**customer.headers, "X-Idempotency-Key": "k-1"})
    assert (older.status_code, older.json()) == (201, first.json())
    mine = (await queue.get("/bookings/my-bookings", headers=customer.headers)).json()
    assert [b["id"] for b in mine["bookings"]] == [first.json()["id"]]
    # The key with another body is refused; without a key the repeat is the 409 it was.
    other = await queue.post(
        "/bookings", json={**body, "notes": "else"}, headers={**customer.headers, "Idempotency-Key": "k-1"}
    )
    assert other.status_code == 422
    assert (await builders.book(queue, customer, store_id)).status_code == 409
    # Keys are per user: another customer's k-1 is their own booking.
    second = await builders.account(queue)
    theirs = await queue.post("/bookings", json=body, headers={**second.headers, "Idempotency-Key": "k-1"})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]


async def test_a_refused_booking_can_be_retried_with_its_key(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    await queue.put(f"/stores/{store_id}", json={"is_active": False}, headers=owner.headers)
    headers = {**customer.headers, "Idempotency-Key": "k-2"}
    assert (await queue.post("/bookings", json={"store_id": store_id}, headers=headers)).status_code == 409
    await queue.put(f"/stores/{store_id}", json={"is_active": True}, headers=owner.headers)
    assert (await queue.post("/bookings", json={"store_id": store_id}, headers=headers)).status_code == 201


async def test_a_repeat_while_the_first_runs_is_409(
    queue: httpx.AsyncClient, customer: Account, store_id: str, queue_database: Database
) -> None:
    body = {"store_id": store_id}
    # The first request's claim, as it stands while that request is still running.
    now = utcnow()
    async with queue_database.engine.begin() as connection:
        await connection.execute(
            insert(IdempotencyKey).values(
                scope=f"user:{customer.id}:bookings.create",
                key="k-3",
                request_hash=request_hash(orjson.dumps(body)),
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    repeat = await queue.post("/bookings", json=body, headers={**customer.headers, "Idempotency-Key": "k-3"})
    assert repeat.status_code == 409
    assert repeat.json() == {"detail": "A request with this idempotency key is still being processed"}
    assert (await queue.get("/bookings/my-bookings", headers=customer.headers)).json()["total"] == 0
