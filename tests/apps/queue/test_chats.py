import httpx

from tests.apps.queue import builders
from tests.apps.queue.builders import Account

NO_SUCH = "00000000-0000-0000-0000-000000000000"


async def test_a_chat_between_booker_and_owner(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    await queue.put("/users/profile", json={"avatar_url": "https://x.test/me.png"}, headers=customer.headers)
    await queue.put(
        f"/stores/{store_id}", json={"avatar_url": "https://x.test/store.png"}, headers=owner.headers
    )
    booking = await builders.booking(queue, customer, store_id)
    url = f"/chats/{booking['id']}/messages"
    # The room exists from the booking on, for both sides, before anyone writes.
    for side in (customer, owner):
        [room] = (await queue.get("/chats", headers=side.headers)).json()["chats"]
        assert (room["booking_id"], room["last_message"], room["unread_count"]) == (booking["id"], None, 0)
    asked = await queue.post(url, json={"content": "請問還需要等多久呢?"}, headers=customer.headers)
    assert asked.status_code == 201
    assert set(asked.json()) == {"id", "message", "sent_at"}
    assert asked.json()["message"] == "訊息發送成功"
    answered = await queue.post(url, json={"content": "大約還需要5分鐘"}, headers=owner.headers)
    assert answered.status_code == 201

    chats = (await queue.get("/chats", headers=customer.headers)).json()["chats"]
    assert len(chats) == 1
    assert chats[0]["booking_id"] == booking["id"]
    assert chats[0]["store"] == {
        "id": store_id,
        "name": "阿明理髮店",
        "avatar_url": "https://x.test/store.png",
    }
    assert chats[0]["customer"]["id"] == customer.id
    assert chats[0]["last_message"]["content"] == "大約還需要5分鐘"
    assert chats[0]["unread_count"] == 1
    owner_chats = (await queue.get("/chats", headers=owner.headers)).json()["chats"]
    assert [(c["booking_id"], c["unread_count"]) for c in owner_chats] == [(booking["id"], 1)]

    read = await queue.get(url, headers=customer.headers)
    assert read.status_code == 200
    body = read.json()
    assert (body["total"], body["page"]) == (2, 1)
    assert [m["content"] for m in body["messages"]] == ["請問還需要等多久呢?", "大約還需要5分鐘"]
    assert body["messages"][0]["sender"] == {
        "id": customer.id,
        "name": "Customer",
        "avatar_url": "https://x.test/me.png",
    }
    # The owner speaks as the store.
    assert body["messages"][1]["sender"] == {
        "id": owner.id,
        "name": "阿明理髮店",
        "avatar_url": "https://x.test/store.png",
    }
    # Reading marked the owner's message read; the customer's own stays unread until the owner reads.
    assert [m["is_read"] for m in body["messages"]] == [False, True]
    assert (await queue.get("/chats", headers=customer.headers)).json()["chats"][0]["unread_count"] == 0
    assert (await queue.get("/chats", headers=owner.headers)).json()["chats"][0]["unread_count"] == 1
    page2 = (await queue.get(url, params={"page": 2, "limit": 1}, headers=owner.headers)).json()
    assert [m["content"] for m in page2["messages"]] == ["大約還需要5分鐘"]
    assert (await queue.get("/chats", headers=owner.headers)).json()["chats"][0]["unread_count"] == 0


async def test_chat_errors(queue: httpx.AsyncClient, customer: Account, store_id: str) -> None:
    booking = await builders.booking(queue, customer, store_id)
    url = f"/chats/{booking['id']}/messages"
    stranger = await builders.account(queue)
    for response in (
        await queue.get(url, headers=stranger.headers),
        await queue.post(url, json={"content": "hi"}, headers=stranger.headers),
    ):
        assert response.status_code == 403
        assert response.json() == {"detail": "Only the booker and the store's owner can use this chat"}
    assert (await queue.get(f"/chats/{NO_SUCH}/messages", headers=customer.headers)).status_code == 404
    assert (
        await queue.post(f"/chats/{NO_SUCH}/messages", json={"content": "x"}, headers=customer.headers)
    ).status_code == 404
    for content in ("", "   ", "x" * 2001):
        assert (await queue.post(url, json={"content": content}, headers=customer.headers)).status_code == 422
    assert (await queue.post(url, json={"content": "x" * 2000}, headers=customer.headers)).status_code == 201
    assert (await queue.get("/chats")).status_code == 401
    assert (await queue.get(url)).status_code == 401


async def test_every_booking_is_a_room_latest_activity_first(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    other_store = await builders.store(queue, owner)
    quiet = await builders.booking(queue, customer, store_id)
    talked = await builders.booking(queue, customer, other_store)
    newest = await builders.booking(queue, await builders.account(queue), store_id)
    await queue.post(f"/chats/{quiet['id']}/messages", json={"content": "hello"}, headers=owner.headers)
    rooms = (await queue.get("/chats", headers=customer.headers)).json()["chats"]
    assert [(r["booking_id"], r["last_message"] is None) for r in rooms] == [
        (quiet["id"], False),
        (talked["id"], True),
    ]
    # The owner has a room per booking at their stores; a stranger has none.
    owner_rooms = (await queue.get("/chats", headers=owner.headers)).json()["chats"]
    assert [r["booking_id"] for r in owner_rooms] == [quiet["id"], newest["id"], talked["id"]]
    stranger = await builders.account(queue)
    assert (await queue.get("/chats", headers=stranger.headers)).json() == {"chats": []}
