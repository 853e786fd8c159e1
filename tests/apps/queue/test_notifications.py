import httpx

from tests.apps.queue import builders
from tests.apps.queue.builders import Account

NO_SUCH = "00000000-0000-0000-0000-000000000000"


async def test_notifications_are_written_for_each_kind_and_can_be_read(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    behind = await builders.account(queue, name="Behind")
    first = await builders.booking(queue, customer, store_id)
    await builders.booking(queue, behind, store_id)
    await queue.post(f"/chats/{first['id']}/messages", json={"content": "hi"}, headers=owner.headers)
    await builders.set_status(queue, owner, first["id"], "cancelled")

    mine = (await queue.get("/notifications", headers=customer.headers)).json()
    assert [(n["type"], n["title"], n["content"]) for n in mine["notifications"]] == [
        ("booking_cancelled", "預約已取消", "阿明理髮店取消了您第1號的預約"),
        ("message_received", "收到新訊息", "阿明理髮店向您發送了一則訊息"),
        ("booking_created", "預約成功", "您在阿明理髮店的號碼是第1號"),
    ]
    assert (mine["unread_count"], mine["total"], mine["page"]) == (3, 3, 1)
    theirs = (await queue.get("/notifications", headers=behind.headers)).json()["notifications"]
    assert [(n["type"], n["content"]) for n in theirs] == [
        ("queue_updated", "您在阿明理髮店的排隊號碼已前進到第1位!"),
        ("booking_created", "您在阿明理髮店的號碼是第2號"),
    ]
    owners = (await queue.get("/notifications", headers=owner.headers)).json()["notifications"]
    assert [n["content"] for n in owners] == [
        "Behind預約了阿明理髮店,第2號",
        "Customer預約了阿明理髮店,第1號",
    ]

    newest = mine["notifications"][0]["id"]
    read = await queue.put(f"/notifications/{newest}/read", headers=customer.headers)
    assert read.status_code == 200
    assert read.json()["message"] == "通知已標記為已讀"
    again = await queue.put(f"/notifications/{newest}/read", headers=customer.headers)
    assert again.json()["read_at"] == read.json()["read_at"]
    unread = (await queue.get("/notifications", params={"is_read": "false"}, headers=customer.headers)).json()
    assert (unread["total"], unread["unread_count"], len(unread["notifications"])) == (2, 2, 2)
    was_read = (
        await queue.get("/notifications", params={"is_read": "true"}, headers=customer.headers)
    ).json()
    assert [n["id"] for n in was_read["notifications"]] == [newest]
    assert was_read["notifications"][0]["is_read"] is True
    paged = (
        await queue.get("/notifications", params={"limit": 2, "page": 2}, headers=customer.headers)
    ).json()
    assert (len(paged["notifications"]), paged["total_pages"]) == (1, 2)

    everything = await queue.put("/notifications/read-all", headers=customer.headers)
    assert everything.status_code == 200
    assert everything.json()["updated"] == 2
    assert (await queue.get("/notifications", headers=customer.headers)).json()["unread_count"] == 0


async def test_notification_errors(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    await builders.booking(queue, customer, store_id)
    theirs = (await queue.get("/notifications", headers=customer.headers)).json()["notifications"][0]["id"]
    other = await queue.put(f"/notifications/{theirs}/read", headers=owner.headers)
    assert other.status_code == 404
    assert other.json() == {"detail": "Notification not found"}
    assert (await queue.put(f"/notifications/{NO_SUCH}/read", headers=customer.headers)).status_code == 404
    assert (await queue.put("/notifications/nope/read", headers=customer.headers)).status_code == 422
    assert (
        await queue.get("/notifications", params={"limit": 0}, headers=customer.headers)
    ).status_code == 400
    assert (await queue.get("/notifications")).status_code == 401
    assert (await queue.put("/notifications/read-all")).status_code == 401


async def test_the_customer_is_told_when_called_and_when_served(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    booking = await builders.booking(queue, customer, store_id)
    await builders.set_status(queue, owner, booking["id"], "serving")
    await builders.set_status(queue, owner, booking["id"], "completed")
    mine = (await queue.get("/notifications", headers=customer.headers)).json()["notifications"]
    assert [(n["type"], n["title"], n["content"]) for n in mine[:2]] == [
        ("booking_status_changed", "服務完成", "阿明理髮店第1號:服務已完成,謝謝您的光臨!"),
        ("booking_status_changed", "輪到您了", "阿明理髮店第1號:您的服務即將開始,請準備前往現場!"),
    ]


async def test_push_notifications_off_means_no_notification_rows(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    settings = {"email_notifications": True, "push_notifications": False, "sms_notifications": False}
    muted = await queue.put(
        "/users/profile", json={"notification_settings": settings}, headers=customer.headers
    )
    assert muted.status_code == 200, muted.text
    behind = await builders.account(queue, name="Behind")
    booking = await builders.booking(queue, customer, store_id)
    await builders.booking(queue, behind, store_id)
    await queue.post(f"/chats/{booking['id']}/messages", json={"content": "hi"}, headers=owner.headers)
    await builders.set_status(queue, owner, booking["id"], "serving")
    await builders.set_status(queue, owner, booking["id"], "completed")
    mine = (await queue.get("/notifications", headers=customer.headers)).json()
    assert (mine["notifications"], mine["unread_count"]) == ([], 0)
    # The others' switches are on: they are still told (the one behind moved up).
    theirs = (await queue.get("/notifications", headers=behind.headers)).json()["notifications"]
    assert [n["type"] for n in theirs] == ["queue_updated", "booking_created"]
    assert len((await queue.get("/notifications", headers=owner.headers)).json()["notifications"]) == 2


async def test_only_the_three_at_the_head_are_told_they_moved_up(
    queue: httpx.AsyncClient, owner: Account, store_id: str
) -> None:
    people = [await builders.account(queue, name=f"P{n}") for n in range(5)]
    bookings = [await builders.booking(queue, person, store_id) for person in people]
    # The second leaves: the third and fourth move up to 2 and 3 (told), the fifth to 4 (not);
    # the first, ahead of it, did not move.
    await builders.set_status(queue, owner, bookings[1]["id"], "cancelled")
    progress = {}
    for n, person in enumerate(people):
        listed = (await queue.get("/notifications", headers=person.headers)).json()["notifications"]
        progress[n] = [item["content"] for item in listed if item["type"] == "queue_updated"]
    assert progress == {
        0: [],
        1: [],
        2: ["您在阿明理髮店的排隊號碼已前進到第2位!"],
        3: ["您在阿明理髮店的排隊號碼已前進到第3位!"],
        4: [],
    }
