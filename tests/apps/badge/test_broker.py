"""Badges' identities in the broker (issue 17 item 1), through the API and real MQTT: a private
Mosquitto from deploy/mosquitto.conf with the dynamic-security plugin, EMQX's hook calls made
over HTTP as EMQX makes them, and the bridge over mqtts://."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
import pytest

from keel.apps import load_app
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge
from tests.broker import SERVICE_USER, Broker
from tests.databases import empty_tables
from tests.serving import free_port

HOOK_TOKEN = "hook-token-" + "t" * 16


@asynccontextmanager
async def _serve(
    settings: Settings, database: Database, tmp_path: Path, **mqtt: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The badge app as `keel serve` runs it, with its bridge when `mqtt` names a broker."""
    keel_app = load_app("badge")
    configured = settings.model_copy(
        update={"badge_mqtt_client_id": f"keel-test-{free_port()}", "data_dir": tmp_path, **mqtt}
    )
    api = keel_app.build(configured, database)
    for hook in keel_app.on_startup:
        await hook(api)
    bridge = getattr(api.state, "badge_mqtt", None)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://badge.test"
        ) as client:
            yield client, bridge
    finally:
        for hook in keel_app.on_shutdown:
            await hook(api)
        await empty_tables(database, keel_app.metadata)


@pytest.fixture
async def dynsec(private_broker: Broker, badge_database: Database, settings: Settings, tmp_path: Path):
    async with _serve(settings, badge_database, tmp_path, **private_broker.keel_settings) as (client, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 15)
        admin = await builders.account(client, badge_database, "admin")
        yield client, admin


async def _eventually(check, within: float = 10.0):
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def _heartbeats(client: httpx.AsyncClient, admin: Account, device_id: str) -> list[dict]:
    return (await client.get(f"/api/v1/devices/{device_id}/heartbeats", headers=admin.headers)).json()


async def _refused(badge: Badge, port: int, password: str | None = None) -> bool:
    try:
        async with aiomqtt.Client(
            "127.0.0.1", port, username=badge.mqtt_username, password=password or badge.mqtt_password
        ):
            return False
    except aiomqtt.MqttError:
        return True


async def _closed(mqtt: aiomqtt.Client, within: float = 5) -> bool:
    """Whether the broker closes this connection within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            async for _ in mqtt.messages:
                pass
    except aiomqtt.MqttError:
        return True
    except TimeoutError:
        return False
    return True


async def test_a_badge_publishes_its_own_topics_only_with_the_credentials_it_was_given(
    dynsec, private_broker: Broker
) -> None:
    client, admin = dynsec
    first, second = await builders.badge(client, admin), await builders.badge(client, admin)
    assert first.mqtt_username == first.device_id and first.mqtt_password
    beat = orjson.dumps(builders.heartbeat())
    async with first.mqtt(private_broker.port) as mqtt:
        # Another badge's topic: the broker drops it (MQTT 3.1.1 has no refusal to show).
        await mqtt.publish(f"luna/device/{second.device_id}/heartbeat", beat, qos=1)
        await mqtt.publish(f"luna/device/{first.device_id}/heartbeat", beat, qos=1)

    async def stored() -> list[dict]:
        return await _heartbeats(client, admin, first.device_id)

    assert len(await _eventually(stored)) == 1
    await asyncio.sleep(1)  # the refused one would have been stored by now, before or after
    assert await _heartbeats(client, admin, second.device_id) == []
    assert len(await stored()) == 1


async def test_a_badge_receives_its_own_downstream_topics_and_not_another_badges(
    dynsec, private_broker: Broker
) -> None:
    client, admin = dynsec
    first, second = await builders.badge(client, admin), await builders.badge(client, admin)
    async with first.mqtt(private_broker.port) as mqtt:
        await mqtt.subscribe(f"luna/device/{second.device_id}/command", qos=1)
        await mqtt.subscribe("luna/device/+/command", qos=1)
        await mqtt.subscribe(f"luna/device/{first.device_id}/command", qos=1)
        for device in (second, first):
            sent = await client.post(
                f"/api/v1/devices/{device.device_id}/command",
                json={"command": "reboot"},
                headers=admin.headers,
            )
            assert sent.status_code == 202
        received = []
        async with asyncio.timeout(5):
            async for message in mqtt.messages:
                received.append(message.topic.value)
                break
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1):
                async for message in mqtt.messages:
                    received.append(message.topic.value)
    assert received == [f"luna/device/{first.device_id}/command"]


async def test_anonymous_and_wrong_passwords_are_refused(dynsec, private_broker: Broker) -> None:
    client, admin = dynsec
    device = await builders.badge(client, admin)
    assert await _refused(Badge("x", "", "", None, None), private_broker.port)
    assert await _refused(device, private_broker.port, password="not-its-password")
    assert not await _refused(device, private_broker.port)


async def test_rotation_closes_the_old_password_and_the_new_one_works(dynsec, private_broker: Broker) -> None:
    client, admin = dynsec
    device = await builders.badge(client, admin)
    async with device.mqtt(private_broker.port) as connected:
        rotated = await client.post(
            f"/api/v1/devices/{device.device_id}/mqtt-credentials", headers=admin.headers
        )
        assert rotated.status_code == 200, rotated.text
        body = rotated.json()
        assert body["mqtt_username"] == device.device_id and body["mqtt_password"] != device.mqtt_password
        assert await _closed(connected), "the connection made with the old password stayed open"
    assert await _refused(device, private_broker.port)
    renewed = Badge(
        device.device_id, device.secret, device.token, body["mqtt_username"], body["mqtt_password"]
    )
    async with renewed.mqtt(private_broker.port) as mqtt:
        await mqtt.publish(
            f"luna/device/{device.device_id}/heartbeat", orjson.dumps(builders.heartbeat()), qos=1
        )
    assert await _eventually(lambda: _heartbeats(client, admin, device.device_id))


async def test_decommission_closes_the_badge_out_and_deletes_it(
    dynsec, private_broker: Broker, badge_database: Database
) -> None:
    client, admin = dynsec
    device, other = await builders.badge(client, admin), await builders.badge(client, admin)
    operator = await builders.account(client, badge_database, "user")
    target = f"/api/v1/devices/{device.device_id}"
    assert (await client.delete(target, headers=operator.headers)).status_code == 403
    async with device.mqtt(private_broker.port) as connected:
        assert (await client.delete(target, headers=admin.headers)).status_code == 204
        assert await _closed(connected), "the decommissioned badge stayed connected"
    assert await _refused(device, private_broker.port)
    assert (await client.get(target, headers=admin.headers)).status_code == 404
    assert (await client.delete(target, headers=admin.headers)).status_code == 404
    # Its device token no longer works either; the other badge is untouched.
    answer = await device.request(client, "POST", f"{target}/heartbeat", json=builders.heartbeat())
    assert answer.status_code == 401
    assert not await _refused(other, private_broker.port)
    # Registered again, it gets a new identity.
    again = await builders.badge(client, admin, device_id=device.device_id)
    assert not await _refused(again, private_broker.port)


async def test_registration_is_refused_whole_when_the_broker_does_not_answer(
    badge_database: Database, settings: Settings, tmp_path: Path
) -> None:
    url = f"mqtt://{SERVICE_USER}:password@127.0.0.1:{free_port()}"  # nobody listens there
    async with _serve(settings, badge_database, tmp_path, badge_mqtt_url=url, badge_mqtt_dynsec=True) as (
        client,
        _,
    ):
        admin = await builders.account(client, badge_database, "admin")
        answer = await builders.register(client, admin)
        assert answer.status_code == 503, answer.text
        assert "broker" in answer.json()["detail"]
        assert (await client.get("/api/v1/devices", headers=admin.headers)).json()["total"] == 0


async def test_an_open_broker_gives_no_credentials(badge, admin: Account) -> None:
    registered = await builders.register(badge, admin)
    assert registered.status_code == 201
    assert registered.json()["mqtt_username"] is None and registered.json()["mqtt_password"] is None
    device_id = registered.json()["device_id"]
    rotated = await badge.post(f"/api/v1/devices/{device_id}/mqtt-credentials", headers=admin.headers)
    assert rotated.status_code == 409 and "credentials" in rotated.json()["detail"]
    # Decommission works without a broker identity too.
    assert (await badge.delete(f"/api/v1/devices/{device_id}", headers=admin.headers)).status_code == 204
    assert (await badge.get(f"/api/v1/devices/{device_id}", headers=admin.headers)).status_code == 404
    hook = await badge.post("/api/v1/mqtt/auth", json={"username": device_id, "password": "x"})
    assert hook.status_code == 404


class Emqx:
    """EMQX's side of the hooks: the calls its HTTP authenticator and authorizer make."""

    def __init__(self, client: httpx.AsyncClient, token: str = HOOK_TOKEN):
        self.client, self.headers = client, {"X-Keel-Hook-Token": token}

    async def connect(self, username: str | None, password: str | None) -> str:
        body = {
            "username": username,
            "password": password,
            "clientid": f"c-{username}",
            "peerhost": "10.0.0.9",
        }
        answer = await self.client.post("/api/v1/mqtt/auth", json=body, headers=self.headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["is_superuser"] is False
        return answer.json()["result"]

    async def may(self, username: str, action: str, topic: str) -> str:
        body = {"username": username, "clientid": f"c-{username}", "topic": topic, "action": action}
        answer = await self.client.post("/api/v1/mqtt/acl", json=body, headers=self.headers)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]


@pytest.fixture
async def emqx(badge_database: Database, settings: Settings, tmp_path: Path):
    hooks = {"badge_mqtt_hook_token": HOOK_TOKEN, "badge_mqtt_url": "mqtt://keel:service-pw@emqx.test:1883"}
    keel_app = load_app("badge")
    api = keel_app.build(settings.model_copy(update={"data_dir": tmp_path, **hooks}), badge_database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://badge.test"
    ) as client:
        yield client, await builders.account(client, badge_database, "admin")
    await empty_tables(badge_database, keel_app.metadata)


async def test_emqx_hooks_let_in_badges_and_keel_with_their_passwords(emqx) -> None:
    client, admin = emqx
    device = await builders.badge(client, admin)
    broker = Emqx(client)
    assert device.mqtt_username == device.device_id and device.mqtt_password
    assert await broker.connect(device.device_id, device.mqtt_password) == "allow"
    assert await broker.connect(device.device_id, "wrong") == "deny"
    assert await broker.connect(None, None) == "deny"
    assert await broker.connect("never_registered", device.mqtt_password) == "deny"
    assert await broker.connect("keel", "service-pw") == "allow"
    assert await broker.connect("keel", "wrong") == "deny"
    rotated = await client.post(f"/api/v1/devices/{device.device_id}/mqtt-credentials", headers=admin.headers)
    new_password = rotated.json()["mqtt_password"]
    assert await broker.connect(device.device_id, device.mqtt_password) == "deny"
    assert await broker.connect(device.device_id, new_password) == "allow"
    # Not anyone may ask.
    for token in ("wrong-token-" + "x" * 16, None):
        headers = {"X-Keel-Hook-Token": token} if token else {}
        body = {"username": device.device_id, "password": new_password}
        assert (await client.post("/api/v1/mqtt/auth", json=body, headers=headers)).status_code == 401
        body = {"username": device.device_id, "topic": "luna/device/x/heartbeat", "action": "publish"}
        assert (await client.post("/api/v1/mqtt/acl", json=body, headers=headers)).status_code == 401


async def test_emqx_hooks_apply_the_topic_rules(emqx) -> None:
    client, admin = emqx
    device, other = await builders.badge(client, admin), await builders.badge(client, admin)
    broker, me, them = Emqx(client), device.device_id, other.device_id
    for kind in ("heartbeat", "logs", "status", "lwt", "config/reported"):
        assert await broker.may(me, "publish", f"luna/device/{me}/{kind}") == "allow"
        assert await broker.may(me, "publish", f"luna/device/{them}/{kind}") == "deny"
        assert await broker.may(me, "subscribe", f"luna/device/{me}/{kind}") == "deny"
        assert await broker.may("keel", "subscribe", f"$share/keel/luna/device/+/{kind}") == "allow"
        assert await broker.may("keel", "subscribe", f"luna/device/+/{kind}") == "allow"
        assert await broker.may("keel", "publish", f"luna/device/{me}/{kind}") == "deny"
    for kind in ("config/update", "command", "update"):
        assert await broker.may(me, "subscribe", f"luna/device/{me}/{kind}") == "allow"
        assert await broker.may(me, "subscribe", f"luna/device/{them}/{kind}") == "deny"
        assert await broker.may(me, "subscribe", f"luna/device/+/{kind}") == "deny"
        assert await broker.may(me, "publish", f"luna/device/{me}/{kind}") == "deny"
        assert await broker.may("keel", "publish", f"luna/device/{me}/{kind}") == "allow"
        assert await broker.may("keel", "publish", f"luna/device/+/{kind}") == "deny"
    assert await broker.may(me, "subscribe", f"luna/device/{me}/#") == "deny"
    assert await broker.may(me, "subscribe", "#") == "deny"
    assert await broker.may("keel", "publish", "keel/health/keel-badge-ingest-0") == "allow"
    assert await broker.may("keel", "subscribe", "#") == "deny"
    assert await broker.may("stranger", "publish", "luna/device/stranger/heartbeat") == "deny"
    # Decommissioned: its open connection may do nothing more.
    assert (await client.delete(f"/api/v1/devices/{me}", headers=admin.headers)).status_code == 204
    assert await broker.may(me, "publish", f"luna/device/{me}/heartbeat") == "deny"
    assert await broker.connect(me, device.mqtt_password) == "deny"


async def test_the_bridge_speaks_mqtts_with_the_ca_it_is_given(
    private_broker: Broker, badge_database: Database, settings: Settings, tmp_path: Path
) -> None:
    tls = {"badge_mqtt_url": private_broker.tls_url, "badge_mqtt_dynsec": True}
    # Without the CA the broker's certificate is not trusted: no connection.
    async with _serve(settings, badge_database, tmp_path, **tls) as (_, bridge):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bridge.connected.wait(), 3)
    trusted = {**tls, "badge_mqtt_ca_file": private_broker.ca_file}
    async with _serve(settings, badge_database, tmp_path, **trusted) as (client, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 15)
        admin = await builders.account(client, badge_database, "admin")
        device = await builders.badge(client, admin)  # its identity made over TLS
        async with device.mqtt(private_broker.port) as mqtt:
            await mqtt.publish(
                f"luna/device/{device.device_id}/heartbeat", orjson.dumps(builders.heartbeat()), qos=1
            )
        assert await _eventually(lambda: _heartbeats(client, admin, device.device_id))
        await bridge.ping()  # /health's check: a QoS 1 round trip on the TLS session
