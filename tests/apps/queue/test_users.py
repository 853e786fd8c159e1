import httpx

from tests.apps.queue.builders import Account


async def test_profile_starts_with_default_notification_settings(
    queue: httpx.AsyncClient, customer: Account
) -> None:
    response = await queue.get("/users/profile", headers=customer.headers)
    assert response.status_code == 200
    assert response.json() == {
        "id": customer.id,
        "email": customer.email,
        "name": "Customer",
        "avatar_url": None,
        "address": None,
        "notification_settings": {
            "email_notifications": True,
            "push_notifications": True,
            "sms_notifications": False,
        },
    }


async def test_profile_update_changes_only_what_is_sent(queue: httpx.AsyncClient, customer: Account) -> None:
    body = {
        "name": "張大明",
        "avatar_url": "https://storage.example.com/avatars/new-avatar.jpg",
        "address": "台北市大安區敦化南路二段216號",
        "notification_settings": {
            "email_notifications": True,
            "push_notifications": False,
            "sms_notifications": True,
        },
    }
    response = await queue.put("/users/profile", json=body, headers=customer.headers)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "個人資料更新成功"
    assert response.json()["updated_at"].endswith("Z") or "+00:00" in response.json()["updated_at"]
    profile = (await queue.get("/users/profile", headers=customer.headers)).json()
    assert {key: profile[key] for key in body} == body
    partial = await queue.put("/users/profile", json={"address": "Elsewhere"}, headers=customer.headers)
    assert partial.status_code == 200
    profile = (await queue.get("/users/profile", headers=customer.headers)).json()
    assert profile["address"] == "Elsewhere"
    assert profile["name"] == "張大明"


async def test_profile_update_refuses_bad_values(queue: httpx.AsyncClient, customer: Account) -> None:
    for body in (
        {"name": ""},
        {"name": None},
        {"avatar_url": "not a url"},
        {"notification_settings": {"email_notifications": "often"}},
        {"notification_settings": {"carrier_pigeon": True}},
        {"notification_settings": None},
        {"is_admin": True},
    ):
        response = await queue.put("/users/profile", json=body, headers=customer.headers)
        assert response.status_code == 422, body
    assert (await queue.put("/users/profile", json={"name": "X"})).status_code == 401


async def test_notification_settings_change_only_the_switches_sent(
    queue: httpx.AsyncClient, customer: Account
) -> None:
    off = await queue.put(
        "/users/profile",
        json={"notification_settings": {"push_notifications": False}},
        headers=customer.headers,
    )
    assert off.status_code == 200, off.text
    on = await queue.put(
        "/users/profile",
        json={"notification_settings": {"sms_notifications": True}},
        headers=customer.headers,
    )
    assert on.status_code == 200
    profile = (await queue.get("/users/profile", headers=customer.headers)).json()
    assert profile["notification_settings"] == {
        "email_notifications": True,
        "push_notifications": False,
        "sms_notifications": True,
    }
    unknown = await queue.put(
        "/users/profile",
        json={"notification_settings": {"push_notifications": True, "carrier_pigeon": True}},
        headers=customer.headers,
    )
    assert unknown.status_code == 422
    assert "carrier_pigeon" in unknown.text
    assert [e["loc"] for e in unknown.json()["detail"]] == [
        ["body", "notification_settings", "carrier_pigeon"]
    ]
    for bad in ({"push_notifications": None}, {"push_notifications": "yes please"}):
        refused = await queue.put(
            "/users/profile", json={"notification_settings": bad}, headers=customer.headers
        )
        assert refused.status_code == 422, bad
    # Nothing refused changed anything.
    assert (await queue.get("/users/profile", headers=customer.headers)).json() == profile


async def test_the_profile_can_be_sent_back_as_read(queue: httpx.AsyncClient, customer: Account) -> None:
    profile = (await queue.get("/users/profile", headers=customer.headers)).json()
    edited = {**profile, "name": "張大明", "created_at": "2024-01-15T10:30:00Z", "email": "other@example.com"}
    response = await queue.put("/users/profile", json=edited, headers=customer.headers)
    assert response.status_code == 200, response.text
    # The read-only fields were ignored, the rest applied.
    assert (await queue.get("/users/profile", headers=customer.headers)).json() == {
        **profile,
        "name": "張大明",
    }
