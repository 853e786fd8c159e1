"""Spec 002's examples as a client written from the document would send them (issue 14 item 12).

Every request body of the document is sent as it is printed; only the ids it shows are replaced
by the ids this server gave out (an id the server never made is a 404, which is tested too, with
the document's own `store_id`). Each answer is checked for every field the document's example
shows, with the example's JSON type; each error case the document lists is checked for its
status code. The three WebSocket payloads are checked the same way on a served app.
"""

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.apps.queue import conftest as queue_fixtures
from tests.apps.queue.conftest import Live
from tests.images import FIVE_MB, png

# 認證系統: POST /auth/register, POST /auth/login
REGISTER = {"email": "user@example.com", "password": "securePassword123", "name": "張小明"}
LOGIN = {"email": "user@example.com", "password": "securePassword123"}
# 使用者管理: PUT /users/profile
PROFILE_UPDATE = {
    "name": "張大明",
    "avatar_url": "https://storage.example.com/avatars/new-avatar.jpg",
    "address": "台北市大安區敦化南路二段216號",
    "notification_settings": {
        "email_notifications": True,
        "push_notifications": False,
        "sms_notifications": True,
    },
}
# 商家管理: GET /stores (query), POST /stores
STORES_QUERY = {"page": 1, "limit": 20, "search": "咖啡"}
STORE_CREATE = {
    "name": "阿明理髮店",
    "description": "專業理髮服務,20年經驗,提供洗剪吹造型服務",
    "avatar_url": "https://storage.example.com/stores/barber-shop.jpg",
    "address": "台北市中山區中山北路二段48號",
    "contact_email": "ming.barber@example.com",
}
# 預約管理: POST /bookings (its store_id is the document's), the two lists' queries, the status
BOOKING_CREATE = {"store_id": "550e8400-e29b-41d4-a716-446655440001", "notes": "希望能安排靠窗的位置,謝謝!"}
MY_BOOKINGS_QUERY = {"status": "waiting", "page": 1, "limit": 10}
RECEIVED_QUERY = {
    "store_id": "550e8400-e29b-41d4-a716-446655440001",
    "status": "waiting",
    "page": 1,
    "limit": 20,
}
STATUS_UPDATE = {"status": "serving"}
# 聊天系統: GET /chats/{booking_id}/messages (query), POST /chats/{booking_id}/messages
MESSAGES_QUERY = {"page": 1, "limit": 50}
MESSAGE_CREATE = {"content": "謝謝!我馬上過去取餐"}
# 通知系統: GET /notifications (query)
NOTIFICATIONS_QUERY = {"is_read": False, "page": 1, "limit": 20}


def _datetime(value: Any) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None


def _id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 36


def _types(body: dict[str, Any], fields: dict[str, Any]) -> None:
    """Each field the example shows is there, of the example's type (a callable checks a string)."""
    for name, kind in fields.items():
        assert name in body, name
        value = body[name]
        if callable(kind) and not isinstance(kind, type):
            assert kind(value), (name, value)
        elif kind is None:
            assert value is None, (name, value)
        else:
            assert isinstance(value, kind) and not (kind is int and isinstance(value, bool)), (name, value)


def _query(params: dict[str, Any]) -> dict[str, str]:
    # A query string carries the example's values as text: `false` as the JSON example writes it.
    return {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in params.items()}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


USER = {"id": _id, "email": str, "name": str}


async def _register(queue: httpx.AsyncClient, **overrides: str) -> tuple[str, dict[str, str]]:
    response = await queue.post("/auth/register", json={**REGISTER, **overrides})
    assert response.status_code == 201, response.text
    return response.json()["user"]["id"], _bearer(response.json()["token"])


async def _store(queue: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """The document's store, made by its owner with the document's body."""
    _, owner = await _register(queue, email="ming.barber@example.com", name="阿明")
    created = await queue.post("/stores", json=STORE_CREATE, headers=owner)
    assert created.status_code == 201, created.text
    return created.json()["id"], owner


async def _booked(queue: httpx.AsyncClient) -> tuple[str, str, dict[str, str], dict[str, str]]:
    store_id, owner = await _store(queue)
    _, customer = await _register(queue)
    booked = await queue.post("/bookings", json={**BOOKING_CREATE, "store_id": store_id}, headers=customer)
    assert booked.status_code == 201, booked.text
    return booked.json()["id"], store_id, owner, customer


async def test_register_and_login(queue: httpx.AsyncClient) -> None:
    for response, status in (
        (await queue.post("/auth/register", json=REGISTER), 201),
        (await queue.post("/auth/login", json=LOGIN), 200),
    ):
        assert response.status_code == status, response.text
        body = response.json()
        _types(body, {"user": dict, "token": str})
        _types(body["user"], USER)
        assert {k: body["user"][k] for k in ("email", "name")} == {
            "email": "user@example.com",
            "name": "張小明",
        }
    # 400 信箱已存在, 422 格式錯誤; 401 帳密錯誤, 404 使用者不存在
    assert (await queue.post("/auth/register", json=REGISTER)).status_code == 400
    assert (await queue.post("/auth/register", json={**REGISTER, "email": "not-an-email"})).status_code == 422
    assert (await queue.post("/auth/login", json={**LOGIN, "password": "wrongPassword1"})).status_code == 401
    assert (await queue.post("/auth/login", json={**LOGIN, "email": "nobody@example.com"})).status_code == 404


async def test_profile_read_and_update(queue: httpx.AsyncClient) -> None:
    _, headers = await _register(queue)
    profile = await queue.get("/users/profile", headers=headers)
    assert profile.status_code == 200
    _types(profile.json(), {**USER, "avatar_url": None, "address": None, "notification_settings": dict})
    updated = await queue.put("/users/profile", json=PROFILE_UPDATE, headers=headers)
    assert updated.status_code == 200, updated.text
    _types(updated.json(), {"message": str, "updated_at": _datetime})
    assert updated.json()["message"] == "個人資料更新成功"
    body = (await queue.get("/users/profile", headers=headers)).json()
    _types(body, {**USER, "avatar_url": str, "address": str, "notification_settings": dict})
    _types(body["notification_settings"], dict.fromkeys(PROFILE_UPDATE["notification_settings"], bool))
    assert {k: body[k] for k in PROFILE_UPDATE} == PROFILE_UPDATE
    # 401 未登入 (both), 422 資料格式錯誤
    assert (await queue.get("/users/profile")).status_code == 401
    assert (await queue.put("/users/profile", json=PROFILE_UPDATE)).status_code == 401
    bad = {**PROFILE_UPDATE, "avatar_url": "not a url"}
    assert (await queue.put("/users/profile", json=bad, headers=headers)).status_code == 422


async def test_store_create_and_list(queue: httpx.AsyncClient) -> None:
    _, owner = await _register(queue)
    created = await queue.post("/stores", json=STORE_CREATE, headers=owner)
    assert created.status_code == 201, created.text
    _types(created.json(), {"id": _id, "name": str, "message": str, "created_at": _datetime})
    assert (created.json()["name"], created.json()["message"]) == ("阿明理髮店", "商家建立成功,開始接受預約!")
    # The list's example stores are coffee shops, which its `search` finds.
    coffee = {**STORE_CREATE, "name": "路易莎咖啡", "contact_email": "daan@louisacoffee.com.tw"}
    coffee_id = (await queue.post("/stores", json=coffee, headers=owner)).json()["id"]
    listed = await queue.get("/stores", params=_query(STORES_QUERY))
    assert listed.status_code == 200
    body = listed.json()
    _types(body, {"stores": list, "total": int, "page": int, "total_pages": int})
    assert (body["total"], body["page"], body["total_pages"]) == (1, 1, 1)
    [store] = body["stores"]
    _types(
        store,
        {
            "id": _id,
            "name": str,
            "avatar_url": str,
            "address": str,
            "contact_email": str,
            "current_queue_count": int,
        },
    )
    assert store["id"] == coffee_id
    # 401 未登入, 422 資料格式錯誤; the list's 400 參數格式錯誤
    assert (await queue.post("/stores", json=STORE_CREATE)).status_code == 401
    bad_store = {**STORE_CREATE, "contact_email": "nope"}
    assert (await queue.post("/stores", json=bad_store, headers=owner)).status_code == 422
    assert (await queue.get("/stores", params={**_query(STORES_QUERY), "page": "first"})).status_code == 400


async def test_booking_create(queue: httpx.AsyncClient) -> None:
    store_id, _ = await _store(queue)
    _, customer = await _register(queue)
    # 404 商家不存在: the document's own store_id names no store here.
    assert (await queue.post("/bookings", json=BOOKING_CREATE, headers=customer)).status_code == 404
    booked = await queue.post("/bookings", json={**BOOKING_CREATE, "store_id": store_id}, headers=customer)
    assert booked.status_code == 201, booked.text
    body = booked.json()
    _types(body, {"id": _id, "queue_number": int, "estimated_wait_time": int, "message": str})
    assert (
        body["message"]
        == f"預約成功!您是第{body['queue_number']}號,預估等待時間{body['estimated_wait_time']}分鐘"
    )
    # 409 重複預約同一商家, 401 未登入
    again = await queue.post("/bookings", json={**BOOKING_CREATE, "store_id": store_id}, headers=customer)
    assert again.status_code == 409
    assert (await queue.post("/bookings", json={**BOOKING_CREATE, "store_id": store_id})).status_code == 401


async def test_the_two_booking_lists(queue: httpx.AsyncClient) -> None:
    booking_id, store_id, owner, customer = await _booked(queue)
    mine = await queue.get("/bookings/my-bookings", params=_query(MY_BOOKINGS_QUERY), headers=customer)
    assert mine.status_code == 200
    body = mine.json()
    _types(body, {"bookings": list, "total": int, "current_page": int})
    [booking] = body["bookings"]
    fields = {"id": _id, "queue_number": int, "status": str, "notes": str, "created_at": _datetime}
    _types(booking, {**fields, "store": dict})
    _types(booking["store"], {"name": str, "avatar_url": str, "contact_email": str})
    assert (booking["id"], booking["status"], booking["notes"]) == (
        booking_id,
        "waiting",
        BOOKING_CREATE["notes"],
    )
    assert (await queue.get("/bookings/my-bookings", params=_query(MY_BOOKINGS_QUERY))).status_code == 401

    query = _query({**RECEIVED_QUERY, "store_id": store_id})
    received = await queue.get("/bookings/received-bookings", params=query, headers=owner)
    assert received.status_code == 200
    body = received.json()
    _types(body, {"bookings": list, "total": int, "current_page": int})
    [booking] = body["bookings"]
    _types(booking, {**fields, "user": dict})
    _types(booking["user"], {"name": str, "avatar_url": None, "email": str})
    # 403 非商家擁有者, 401 未登入
    assert (await queue.get("/bookings/received-bookings", params=query, headers=customer)).status_code == 403
    assert (await queue.get("/bookings/received-bookings", params=query)).status_code == 401


async def test_status_update_and_cancel(queue: httpx.AsyncClient) -> None:
    booking_id, store_id, owner, customer = await _booked(queue)
    missing = "550e8400-e29b-41d4-a716-446655440010"  # the document's booking id: none here
    url = f"/bookings/{booking_id}/status"
    # 401 未登入, 403 非商家擁有者, 404 預約不存在
    assert (await queue.put(url, json=STATUS_UPDATE)).status_code == 401
    assert (await queue.put(url, json=STATUS_UPDATE, headers=customer)).status_code == 403
    assert (
        await queue.put(f"/bookings/{missing}/status", json=STATUS_UPDATE, headers=owner)
    ).status_code == 404
    updated = await queue.put(url, json=STATUS_UPDATE, headers=owner)
    assert updated.status_code == 200, updated.text
    _types(updated.json(), {"message": str, "updated_at": _datetime})
    assert updated.json()["message"] == "預約狀態已更新為服務中"

    _, other = await _register(queue, email="other@example.com")
    second = await queue.post("/bookings", json={**BOOKING_CREATE, "store_id": store_id}, headers=other)
    second_id = second.json()["id"]
    # 401 未登入, 403 非預約擁有者, 404 預約不存在
    assert (await queue.delete(f"/bookings/{second_id}")).status_code == 401
    assert (await queue.delete(f"/bookings/{second_id}", headers=customer)).status_code == 403
    assert (await queue.delete(f"/bookings/{missing}", headers=other)).status_code == 404
    cancelled = await queue.delete(f"/bookings/{second_id}", headers=other)
    assert cancelled.status_code == 200, cancelled.text
    _types(cancelled.json(), {"message": str, "cancelled_at": _datetime})
    assert cancelled.json()["message"] == "預約已成功取消"


async def test_chats(queue: httpx.AsyncClient) -> None:
    booking_id, _, owner, customer = await _booked(queue)
    url = f"/chats/{booking_id}/messages"
    sent = await queue.post(url, json=MESSAGE_CREATE, headers=owner)
    assert sent.status_code == 201, sent.text
    _types(sent.json(), {"id": _id, "message": str, "sent_at": _datetime})
    assert sent.json()["message"] == "訊息發送成功"
    chats = await queue.get("/chats", headers=customer)
    assert chats.status_code == 200
    [chat] = chats.json()["chats"]
    _types(chat, {"booking_id": _id, "store": dict, "last_message": dict, "unread_count": int})
    _types(chat["store"], {"name": str, "avatar_url": str})
    _types(chat["last_message"], {"content": str, "created_at": _datetime})
    assert (chat["booking_id"], chat["unread_count"]) == (booking_id, 1)
    read = await queue.get(url, params=_query(MESSAGES_QUERY), headers=customer)
    assert read.status_code == 200
    [message] = read.json()["messages"]
    _types(message, {"id": _id, "sender": dict, "content": str, "is_read": bool, "created_at": _datetime})
    _types(message["sender"], {"id": _id, "name": str, "avatar_url": str})
    assert message["sender"]["name"] == "阿明理髮店"  # the owner speaks as the store, as in the example
    # 401 未登入, 403 非預約相關人員, 422 訊息內容錯誤
    assert (await queue.get("/chats")).status_code == 401
    _, stranger = await _register(queue, email="stranger@example.com")
    assert (await queue.get(url, params=_query(MESSAGES_QUERY), headers=stranger)).status_code == 403
    assert (await queue.post(url, json=MESSAGE_CREATE, headers=stranger)).status_code == 403
    assert (await queue.post(url, json={"content": ""}, headers=customer)).status_code == 422
    assert (await queue.post(url, json=MESSAGE_CREATE)).status_code == 401


async def test_notifications(queue: httpx.AsyncClient) -> None:
    booking_id, _, owner, customer = await _booked(queue)
    await queue.post(f"/chats/{booking_id}/messages", json=MESSAGE_CREATE, headers=owner)
    listed = await queue.get("/notifications", params=_query(NOTIFICATIONS_QUERY), headers=customer)
    assert listed.status_code == 200
    body = listed.json()
    _types(body, {"notifications": list, "unread_count": int})
    assert body["unread_count"] == len(body["notifications"]) == 2
    for notification in body["notifications"]:
        _types(
            notification,
            {"id": _id, "type": str, "title": str, "content": str, "is_read": bool, "created_at": _datetime},
        )
    assert {n["type"] for n in body["notifications"]} == {"booking_created", "message_received"}
    first = body["notifications"][0]["id"]
    marked = await queue.put(f"/notifications/{first}/read", headers=customer)
    assert marked.status_code == 200
    _types(marked.json(), {"message": str, "read_at": _datetime})
    assert marked.json()["message"] == "通知已標記為已讀"
    # 404 通知不存在 (another's is not theirs to see), 401 未登入
    assert (await queue.put(f"/notifications/{first}/read", headers=owner)).status_code == 404
    assert (await queue.get("/notifications")).status_code == 401


async def test_avatar_upload(queue: httpx.AsyncClient) -> None:
    _, headers = await _register(queue)
    uploaded = await queue.post(
        "/upload/avatar", files={"file": ("a.png", png(), "image/png")}, headers=headers
    )
    assert uploaded.status_code == 200, uploaded.text
    _types(uploaded.json(), {"avatar_url": str, "message": str, "uploaded_at": _datetime})
    assert uploaded.json()["message"] == "頭像上傳成功"
    # 401 未登入, 400 檔案格式不支援, 413 檔案過大
    assert (await queue.post("/upload/avatar", files={"file": ("a.png", png())})).status_code == 401
    text = {"file": ("a.png", b"not an image", "image/png")}
    assert (await queue.post("/upload/avatar", files=text, headers=headers)).status_code == 400
    large = {"file": ("a.png", png(FIVE_MB + 1), "image/png")}  # past 5 MB
    assert (await queue.post("/upload/avatar", files=large, headers=headers)).status_code == 413


# --- 即時功能架構: the three WebSocket payloads ---------------------------------------------

live = queue_fixtures.live  # the app served on a port, for WebSocket clients


async def _event(ws: ClientConnection, name: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["event"] == name:
            return frame["data"]


QUEUE_UPDATED = {
    "store_id": _id,
    "current_queue_count": int,
    "your_position": int,
    "estimated_wait_time": int,
    "updated_at": _datetime,
}
BOOKING_STATUS_CHANGED = {
    "booking_id": _id,
    "old_status": str,
    "new_status": str,
    "message": str,
    "updated_at": _datetime,
}


async def _live_booking(live: Live) -> tuple[str, str, str, str]:
    """A store, its owner's token, a booking and its customer's token."""
    owner = await live.http.post("/auth/register", json={**REGISTER, "email": "ming.barber@example.com"})
    owner_token = owner.json()["token"]
    store_id = (await live.http.post("/stores", json=STORE_CREATE, headers=_bearer(owner_token))).json()["id"]
    customer = await live.http.post("/auth/register", json=REGISTER)
    token = customer.json()["token"]
    body = {**BOOKING_CREATE, "store_id": store_id}
    booking_id = (await live.http.post("/bookings", json=body, headers=_bearer(token))).json()["id"]
    return store_id, owner_token, booking_id, token


async def test_queue_updated_and_booking_status_changed_to_the_customer(live: Live) -> None:
    store_id, owner_token, booking_id, token = await _live_booking(live)
    async with connect(f"{live.ws_url}?token={token}") as ws:
        # Another booking (新預約建立): the first customer's line changes.
        other = await live.http.post("/auth/register", json={**REGISTER, "email": "other@example.com"})
        body = {**BOOKING_CREATE, "store_id": store_id}
        await live.http.post("/bookings", json=body, headers=_bearer(other.json()["token"]))
        updated = await _event(ws, "queue_updated")
        _types(updated, QUEUE_UPDATED)
        assert (updated["store_id"], updated["current_queue_count"], updated["your_position"]) == (
            store_id,
            2,
            1,
        )
        # 等待中 -> 服務中
        status = {"status": "serving"}
        await live.http.put(f"/bookings/{booking_id}/status", json=status, headers=_bearer(owner_token))
        changed = await _event(ws, "booking_status_changed")
        _types(changed, BOOKING_STATUS_CHANGED)
        assert (changed["booking_id"], changed["old_status"], changed["new_status"]) == (
            booking_id,
            "waiting",
            "serving",
        )
        assert changed["message"] == "您的服務即將開始,請準備前往現場!"


async def test_booking_status_changed_to_the_store(live: Live) -> None:
    _, owner_token, booking_id, _ = await _live_booking(live)
    async with connect(f"{live.ws_url}?token={owner_token}") as ws:
        status = {"status": "serving"}
        await live.http.put(f"/bookings/{booking_id}/status", json=status, headers=_bearer(owner_token))
        changed = await _event(ws, "booking_status_changed")
        _types(changed, BOOKING_STATUS_CHANGED)
        assert (changed["booking_id"], changed["new_status"]) == (booking_id, "serving")


async def test_new_message(live: Live) -> None:
    _, owner_token, booking_id, token = await _live_booking(live)
    async with connect(f"{live.ws_url}?token={token}") as ws:
        content = "您的餐點準備好了,請前來取餐!"
        sent = await live.http.post(
            f"/chats/{booking_id}/messages", json={"content": content}, headers=_bearer(owner_token)
        )
        data = await _event(ws, "new_message")
        _types(data, {"booking_id": _id, "message": dict})
        _types(
            data["message"],
            {"id": _id, "sender_id": _id, "sender_name": str, "content": str, "created_at": _datetime},
        )
        assert (data["booking_id"], data["message"]["id"]) == (booking_id, sent.json()["id"])
        assert (data["message"]["sender_name"], data["message"]["content"]) == ("阿明理髮店", content)
