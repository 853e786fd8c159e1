"""Issue 17 item 4: a badge's channel decides which versions reach it, in the update check and
in the rollout's push targets (its deployments, and the `update` messages over MQTT)."""

import asyncio
import contextlib
from urllib.parse import urlsplit

import aiomqtt
import httpx
import orjson

from keel.core.db import Database
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge
from tests.apps.badge.test_mqtt import served  # noqa: F401  (the fixture)
from tests.apps.badge.test_versions import publish
from tests.databases import MQTT_URL


async def _deployed(client: httpx.AsyncClient, admin: Account, version_id: int) -> set[str]:
    response = await client.get(f"/api/v1/versions/{version_id}/deployments?limit=100", headers=admin.headers)
    assert response.status_code == 200, response.text
    return {item["device_id"] for item in response.json()["items"]}


async def _latest(client: httpx.AsyncClient, device: Badge, query: str = "") -> str | None:
    response = await device.request(client, "GET", f"/api/v1/versions/check?current_version=1.0.0{query}")
    assert response.status_code == 200, response.text
    return response.json()["latest_version"]


async def test_channel_is_set_at_registration_and_by_patch(
    badge: httpx.AsyncClient, admin: Account, operator: Account, guest: Account
) -> None:
    stable = await builders.register(badge, admin)
    assert stable.json()["channel"] == "stable"
    beta = (await builders.register(badge, admin, channel="beta", user_id=operator.id)).json()
    assert beta["channel"] == "beta"
    assert (await builders.register(badge, admin, channel="nightly")).status_code == 422
    path = f"/api/v1/devices/{beta['device_id']}"
    changed = await badge.patch(path, json={"channel": "alpha"}, headers=operator.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["channel"] == "alpha" and changed.json()["device_name"] == beta["device_name"]
    assert (await badge.get(path, headers=guest.headers)).json()["channel"] == "alpha"
    assert (await badge.patch(path, json={}, headers=admin.headers)).json()["channel"] == "alpha"
    assert (await badge.patch(path, json={"channel": None}, headers=admin.headers)).status_code == 422
    assert (await badge.patch(path, json={"channel": "gamma"}, headers=admin.headers)).status_code == 422
    assert (await badge.patch(path, json={"channel": "beta"}, headers=guest.headers)).status_code == 403
    # A user changes only the badges bound to them.
    theirs = f"/api/v1/devices/{stable.json()['device_id']}"
    assert (await badge.patch(theirs, json={"channel": "beta"}, headers=operator.headers)).status_code == 404
    missing = await badge.patch("/api/v1/devices/nobody", json={"channel": "beta"}, headers=admin.headers)
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


async def test_a_version_reaches_only_the_channels_its_type_allows(
    badge: httpx.AsyncClient, admin: Account
) -> None:
    stable = await builders.badge(badge, admin)
    beta = await builders.badge(badge, admin, channel="beta")
    alpha = await builders.badge(badge, admin, channel="alpha")
    released = {}
    for number, kind in (("1.5.0", "stable"), ("2.0.0", "beta"), ("3.0.0", "alpha")):
        created = await publish(badge, admin, number, version_type=kind)
        assert created.status_code == 201, created.text
        released[kind] = created.json()["id"]

    assert await _latest(badge, stable) == "1.5.0"
    assert await _latest(badge, beta) == "2.0.0"
    assert await _latest(badge, alpha) == "3.0.0"
    # `type` narrows a badge's channel, never widens it.
    assert await _latest(badge, beta, "&type=stable") == "1.5.0"
    assert await _latest(badge, stable, "&type=alpha") == "1.5.0"
    # An operator sees a badge's view with device_id: its channel, not the default stable.
    seen = await badge.get(
        f"/api/v1/versions/check?current_version=1.0.0&device_id={beta.device_id}", headers=admin.headers
    )
    assert seen.json()["latest_version"] == "2.0.0"
    unknown = await badge.get(
        "/api/v1/versions/check?current_version=1.0.0&device_id=nobody", headers=admin.headers
    )
    assert unknown.status_code == 404

    # The push targets: a deployment for every badge whose channel sees the version.
    everyone = {stable.device_id, beta.device_id, alpha.device_id}
    assert await _deployed(badge, admin, released["stable"]) == everyone
    assert await _deployed(badge, admin, released["beta"]) == {beta.device_id, alpha.device_id}
    assert await _deployed(badge, admin, released["alpha"]) == {alpha.device_id}

    # Moved to beta, the stable badge is offered the beta version, and a new rollout reaches it.
    moved = await badge.patch(
        f"/api/v1/devices/{stable.device_id}", json={"channel": "beta"}, headers=admin.headers
    )
    assert moved.status_code == 200
    assert await _latest(badge, stable) == "2.0.0"
    again = await badge.post(
        f"/api/v1/versions/{released['beta']}/rollout", json={"percentage": 100}, headers=admin.headers
    )
    assert again.status_code == 200, again.text
    assert await _deployed(badge, admin, released["beta"]) == everyone


async def test_beta_updates_are_pushed_to_beta_badges_only(served, badge_database: Database) -> None:  # noqa: F811
    client, _bridge = served
    admin = await builders.account(client, badge_database, "admin")
    stable = await builders.badge(client, admin)
    beta = await builders.badge(client, admin, channel="beta")
    parts = urlsplit(MQTT_URL)
    received: dict[str, list[str]] = {stable.device_id: [], beta.device_id: []}
    async with aiomqtt.Client(parts.hostname, parts.port) as mqtt:
        for device in (stable, beta):
            await mqtt.subscribe(f"luna/device/{device.device_id}/update", qos=1)
        assert (await publish(client, admin, "2.0.0", version_type="beta")).status_code == 201
        assert (await publish(client, admin, "2.0.1", version_type="stable")).status_code == 201

        async def take(count: int, within: float) -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    async for message in mqtt.messages:
                        device_id = message.topic.value.split("/")[2]
                        received[device_id].append(orjson.loads(message.payload)["version"])
                        if sum(map(len, received.values())) == count:
                            return

        await take(3, 10)
        await take(4, 0.5)  # room for a stray beta push to the stable badge to show up
    assert sorted(received[beta.device_id]) == ["2.0.0", "2.0.1"]
    assert received[stable.device_id] == ["2.0.1"]
