"""The config centre's paged list (GET /configs/search, for the console): by scope, badge,
module and part of the key, a page at a time, seen by each caller as GET /configs shows it."""

import httpx

from tests.apps.badge import builders
from tests.apps.badge.builders import Account


async def _set(client: httpx.AsyncClient, admin: Account, key: str, value: str, **fields) -> None:
    body = {"config_key": key, "config_value": value, **fields}
    response = await client.put("/api/v1/configs", json=body, headers=admin.headers)
    assert response.status_code == 200, response.text


async def _search(client: httpx.AsyncClient, who: Account, **params) -> httpx.Response:
    return await client.get("/api/v1/configs/search", params=params, headers=who.headers)


async def test_search_by_scope_key_device_and_module_in_pages(
    badge: httpx.AsyncClient, admin: Account, operator: Account, guest: Account
) -> None:
    module = {"module_name": "tts", "module_type": "speech", "module_version": "1.0.0"}
    assert (await badge.post("/api/v1/modules", json=module, headers=admin.headers)).status_code == 201
    mine = await builders.badge(badge, admin, user_id=operator.id)
    other = await builders.badge(badge, admin)
    await _set(badge, admin, "heartbeat_interval", "30", config_type="integer")
    await _set(badge, admin, "Log_Level", "info")
    await _set(badge, admin, "volume", "50", config_type="integer", module_name="tts")
    await _set(
        badge, admin, "volume", "60", config_type="integer", module_name="tts", device_id=mine.device_id
    )
    await _set(badge, admin, "wifi_password", "s3cret", is_encrypted=True, device_id=other.device_id)

    everything = (await _search(badge, admin)).json()
    assert everything["total"] == 5 and everything["page"] == 1 and everything["limit"] == 20
    assert [c["config_key"] for c in everything["items"]] == [
        "heartbeat_interval",
        "Log_Level",
        "volume",
        "volume",
        "wifi_password",
    ]

    def keys(answer: httpx.Response) -> list[tuple[str, str | None, str | None]]:
        assert answer.status_code == 200, answer.text
        return [(c["config_key"], c["module_name"], c["device_id"]) for c in answer.json()["items"]]

    assert keys(await _search(badge, admin, scope="global")) == [
        ("heartbeat_interval", None, None),
        ("Log_Level", None, None),
    ]
    assert keys(await _search(badge, admin, scope="module")) == [("volume", "tts", None)]
    assert keys(await _search(badge, admin, scope="device")) == [
        ("volume", "tts", mine.device_id),
        ("wifi_password", None, other.device_id),
    ]
    # Part of the key, any case; LIKE's wildcards stand for themselves.
    assert keys(await _search(badge, admin, q="LOG")) == [("Log_Level", None, None)]
    assert keys(await _search(badge, admin, q="g_l")) == [("Log_Level", None, None)]
    assert keys(await _search(badge, admin, q="%")) == []
    assert keys(await _search(badge, admin, module_name="tts", scope="device")) == [
        ("volume", "tts", mine.device_id)
    ]
    assert keys(await _search(badge, admin, device_id=other.device_id)) == [
        ("wifi_password", None, other.device_id)
    ]
    second = (await _search(badge, admin, page=2, limit=2)).json()
    assert (second["total"], second["total_pages"], len(second["items"])) == (5, 3, 2)
    assert second["items"][0]["module_name"] == "tts"

    # Encrypted values for admins only; a user sees the module-wide keys and their badges'.
    secret = (await _search(badge, admin, device_id=other.device_id)).json()["items"][0]
    assert secret["config_value"] == "s3cret" and secret["is_encrypted"] is True
    assert keys(await _search(badge, operator, scope="device")) == [("volume", "tts", mine.device_id)]
    assert (await _search(badge, operator, device_id=other.device_id)).status_code == 404
    # A guest reads the whole fleet, without encrypted values.
    (hidden,) = (await _search(badge, guest, q="wifi")).json()["items"]
    assert hidden["config_value"] is None and hidden["is_encrypted"] is True


async def test_search_refuses_bad_input_and_strangers(badge: httpx.AsyncClient, admin: Account) -> None:
    assert (await badge.get("/api/v1/configs/search")).status_code == 401
    bad = await _search(badge, admin, scope="everywhere")
    assert bad.status_code == 422 and "scope" in bad.text
    assert (await _search(badge, admin, limit=0)).status_code == 422
    assert (await _search(badge, admin, q="x" * 129)).status_code == 422
    missing = await _search(badge, admin, device_id="no_such_badge")
    assert missing.status_code == 404 and "no_such_badge" in missing.json()["detail"]
