"""The fleet list's filters the console uses: a search over id, name and MAC address, the
channel, and both together with the online status."""

import httpx

from tests.apps.badge import builders
from tests.apps.badge.builders import Account


async def test_search_and_channel_narrow_the_list(
    badge: httpx.AsyncClient, admin: Account, guest: Account
) -> None:
    front = await builders.badge(badge, admin, device_name="Front Desk 50%", mac_address="AA:BB:CC:00:00:01")
    await builders.badge(badge, admin, device_name="Warehouse", channel="beta")
    await builders.badge(badge, admin, device_name="Back Office", channel="beta")

    def ids(answer: httpx.Response) -> list[str]:
        assert answer.status_code == 200, answer.text
        return [item["device_name"] for item in answer.json()["items"]]

    assert ids(await badge.get("/api/v1/devices", params={"q": "front desk"}, headers=guest.headers)) == [
        "Front Desk 50%"
    ]
    # LIKE's wildcards in the search are literal; the MAC address and the id match too.
    assert ids(await badge.get("/api/v1/devices", params={"q": "50%"}, headers=guest.headers)) == [
        "Front Desk 50%"
    ]
    assert ids(await badge.get("/api/v1/devices", params={"q": "%"}, headers=guest.headers)) == [
        "Front Desk 50%"
    ]
    assert ids(await badge.get("/api/v1/devices", params={"q": "bb:cc"}, headers=guest.headers)) == [
        "Front Desk 50%"
    ]
    by_id = await badge.get("/api/v1/devices", params={"q": front.device_id.upper()}, headers=guest.headers)
    assert ids(by_id) == ["Front Desk 50%"]
    beta = await badge.get("/api/v1/devices", params={"channel": "beta"}, headers=guest.headers)
    assert ids(beta) == ["Warehouse", "Back Office"]
    assert beta.json()["total"] == 2
    both = {"channel": "beta", "q": "office", "status": "offline"}
    assert ids(await badge.get("/api/v1/devices", params=both, headers=guest.headers)) == ["Back Office"]
    online = {"channel": "beta", "status": "online"}
    assert ids(await badge.get("/api/v1/devices", params=online, headers=guest.headers)) == []
    assert ids(await badge.get("/api/v1/devices", params={"q": "nothing"}, headers=guest.headers)) == []


async def test_bad_filters_are_422(badge: httpx.AsyncClient, guest: Account) -> None:
    for params in ({"channel": "nightly"}, {"q": "x" * 65}):
        answer = await badge.get("/api/v1/devices", params=params, headers=guest.headers)
        assert answer.status_code == 422, (params, answer.text)
    # A NUL is nothing on SQLite and MariaDB, and PostgreSQL's refusal is a 422, never a 500.
    answer = await badge.get("/api/v1/devices", params={"q": "a\x00b"}, headers=guest.headers)
    assert answer.status_code in (200, 422), answer.text


async def test_the_filters_keep_a_user_to_their_own_badges(
    badge: httpx.AsyncClient, admin: Account, operator: Account
) -> None:
    await builders.badge(badge, admin, device_name="Mine", user_id=operator.id)
    await builders.badge(badge, admin, device_name="Minefield")
    answer = await badge.get("/api/v1/devices", params={"q": "mine"}, headers=operator.headers)
    assert [item["device_name"] for item in answer.json()["items"]] == ["Mine"]
