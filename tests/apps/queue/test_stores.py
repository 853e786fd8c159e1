import httpx

from tests.apps.queue import builders
from tests.apps.queue.builders import Account


async def test_create_store_answers_201_and_the_list_shows_its_queue(
    queue: httpx.AsyncClient, owner: Account, customer: Account
) -> None:
    body = {
        "name": "阿明理髮店",
        "description": "專業理髮服務",
        "avatar_url": "https://storage.example.com/stores/barber-shop.jpg",
        "address": "台北市中山區中山北路二段48號",
        "contact_email": "ming.barber@example.com",
    }
    created = await queue.post("/stores", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    # The spec's four fields, and the store's day (issue 14) with the deployment's defaults.
    assert set(created.json()) == {
        "id",
        "name",
        "message",
        "created_at",
        "time_zone",
        "opening_hours",
        "accepting_bookings",
        "end_of_day_no_show",
    }
    assert created.json()["time_zone"] == "Asia/Taipei"
    assert (created.json()["opening_hours"], created.json()["accepting_bookings"]) == (None, True)
    assert created.json()["message"] == "商家建立成功,開始接受預約!"
    store_id = created.json()["id"]
    await builders.booking(queue, customer, store_id)
    listed = await queue.get("/stores")
    assert listed.status_code == 200
    assert listed.json() == {
        "stores": [{"id": store_id, **body, "current_queue_count": 1}],
        "total": 1,
        "page": 1,
        "total_pages": 1,
    }


async def test_create_store_needs_a_user_and_valid_fields(queue: httpx.AsyncClient, owner: Account) -> None:
    assert (await queue.post("/stores", json={"name": "X"})).status_code == 401
    for body in (
        {},
        {"name": ""},
        {"name": "X", "contact_email": "nope"},
        {"name": "X", "avatar_url": "ftp://x"},
    ):
        assert (await queue.post("/stores", json=body, headers=owner.headers)).status_code == 422, body


async def test_list_pages_and_searches_name_description_and_address(
    queue: httpx.AsyncClient, owner: Account
) -> None:
    await builders.store(queue, owner, name="星巴克信義店", description="咖啡", address="信義路")
    await builders.store(queue, owner, name="路易莎", description="Louisa 咖啡", address="敦化南路")
    await builders.store(queue, owner, name="Barber", description="haircuts", address="Coffee Lane 5")
    for n in range(4):
        await builders.store(queue, owner, name=f"Filler {n}")
    page = (await queue.get("/stores", params={"limit": 3, "page": 3})).json()
    assert (page["total"], page["page"], page["total_pages"], len(page["stores"])) == (7, 3, 3, 1)
    assert page["stores"][0]["name"] == "Filler 3"
    coffee = (await queue.get("/stores", params={"search": "咖啡"})).json()
    assert [s["name"] for s in coffee["stores"]] == ["星巴克信義店", "路易莎"]
    assert [
        s["name"] for s in (await queue.get("/stores", params={"search": "COFFEE"})).json()["stores"]
    ] == ["Barber"]
    assert [s["name"] for s in (await queue.get("/stores", params={"search": "敦化"})).json()["stores"]] == [
        "路易莎"
    ]
    assert (await queue.get("/stores", params={"search": "100%"})).json()["total"] == 0
    # The spec's 400 for a malformed query parameter, with the usual list of what is wrong.
    too_many = await queue.get("/stores", params={"limit": 101})
    assert too_many.status_code == 400
    assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]
    assert (await queue.get("/stores", params={"page": 0})).status_code == 400


async def test_get_store_and_only_its_owner_may_change_it(
    queue: httpx.AsyncClient, owner: Account, customer: Account, store_id: str
) -> None:
    store = await queue.get(f"/stores/{store_id}")
    assert store.status_code == 200
    body = store.json()
    assert (body["name"], body["owner_id"], body["is_active"]) == ("阿明理髮店", owner.id, True)
    assert (body["current_queue_count"], body["average_service_minutes"]) == (0, None)  # none measured yet
    assert body["default_service_minutes"] is None  # the server's default applies
    assert (await queue.get("/stores/00000000-0000-0000-0000-000000000000")).status_code == 404
    assert (await queue.get("/stores/not-a-uuid")).status_code == 422
    forbidden = await queue.put(f"/stores/{store_id}", json={"name": "Mine"}, headers=customer.headers)
    assert forbidden.status_code == 403
    assert forbidden.json() == {"detail": "Only the store's owner can change it"}
    missing = await queue.put("/stores/00000000-0000-0000-0000-000000000000", json={}, headers=owner.headers)
    assert missing.status_code == 404
    changed = await queue.put(
        f"/stores/{store_id}", json={"name": "New Name", "is_active": False}, headers=owner.headers
    )
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["is_active"]) == ("New Name", False)
    # A closed store leaves the public list.
    assert (await queue.get("/stores")).json()["total"] == 0
    assert (
        await queue.put(f"/stores/{store_id}", json={"is_active": None}, headers=owner.headers)
    ).status_code == 422
