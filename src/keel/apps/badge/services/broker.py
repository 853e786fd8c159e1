"""Each badge's identity in the MQTT broker (issue 17 item 1): who may connect, and which topics
each may use, for the two brokers keel runs with.

- Mosquitto with its dynamic-security plugin (`KEEL_BADGE_MQTT_DYNSEC=true`): keel's own account
  (the one in KEEL_BADGE_MQTT_URL, made the plugin's admin by `mosquitto_ctrl dynsec init`)
  sends JSON commands to `$CONTROL/dynamic-security/v1`: a client and a role per badge (the
  plugin of Mosquitto 2.0 has no `%u` in role ACLs, so one role per badge names its topics),
  and keel's own role, made again on each connection so an upgraded rule reaches the broker.
- EMQX (`KEEL_BADGE_MQTT_HOOK_TOKEN`): EMQX asks keel's HTTP hooks (routes/broker.py) on each
  connect, publish and subscribe; `may` below answers them.

The same rules either way: a badge publishes only `luna/device/<its id>/<upstream>` and
subscribes only to `luna/device/<its id>/<downstream>`, both literal (no wildcards); keel's
account subscribes to every badge's upstream topics (plain or through `$share/<group>/`) and
publishes every badge's downstream ones, and its own health topic.

The password is 256 random bits: keel keeps its SHA-256 (a slow password hash buys nothing
against a key that cannot be guessed, and EMQX asks on every connect of a reconnecting
fleet); with Mosquitto the plugin keeps its own salted hash, and keel's marks that the badge
has an identity.
"""

import asyncio
import hashlib
import hmac
import logging
import secrets
import ssl
import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson
from sqlalchemy import select

from keel.apps.badge.models import Device
from keel.core.db import Executor
from keel.core.errors import ServiceUnavailable
from keel.settings import Settings

log = logging.getLogger("keel.badge.broker")

TOPIC_ROOT = "luna/device"
# What badges publish and keel subscribes to (services/mqtt.py), each with its payload schema in
# ingest.KINDS; and what keel publishes to badges.
UPSTREAM = ("heartbeat", "logs", "status", "lwt", "config/reported")
DOWNSTREAM = ("config/update", "command", "update")
HEALTH_TOPIC = "keel/health"
SERVICE_ROLE = "keel-badge"
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
_ANSWER_SECONDS = 10

Action = Literal["publish", "subscribe"]


@dataclass(frozen=True)
class Endpoint:
    """Where the broker is and how keel logs in: `mqtt://` (1883) or `mqtts://` (8883, the
    broker's certificate checked against KEEL_BADGE_MQTT_CA_FILE or the system's CAs)."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: ssl.SSLContext | None

    @classmethod
    def of(cls, settings: Settings) -> "Endpoint":
        url = urlsplit(settings.badge_mqtt_url or "")
        secure = url.scheme in ("mqtts", "ssl")
        if not (secure or url.scheme in ("mqtt", "tcp")) or not url.hostname:
            raise ValueError(
                "KEEL_BADGE_MQTT_URL must look like mqtt://host:1883 or mqtts://host:8883, "
                f"not {settings.badge_mqtt_url!r}"
            )
        tls = None
        if secure:
            ca_file = settings.badge_mqtt_ca_file
            tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        return cls(
            url.hostname,
            url.port or (8883 if secure else 1883),
            unquote(url.username) if url.username else None,
            unquote(url.password) if url.password else None,
            tls,
        )

    def client(self, **options: Any) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            tls_context=self.tls,
            **options,
        )


def enabled(settings: Settings) -> bool:
    """Whether badges get broker credentials: with an open broker there is nothing to give."""
    return settings.badge_mqtt_dynsec or settings.badge_mqtt_hook_token is not None


def new_password() -> str:
    return secrets.token_urlsafe(32)


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def password_matches(password: str, stored: str | None) -> bool:
    # Compared even without a stored hash, so an unknown badge takes as long as a known one.
    return hmac.compare_digest(password_hash(password), stored or "")


# The rules, as the EMQX hooks ask them.


def _own(topic: str, device_id: str, kinds: tuple[str, ...]) -> bool:
    return topic in {f"{TOPIC_ROOT}/{device_id}/{kind}" for kind in kinds}


def _unshared(topic: str) -> str:
    """`$share/<group>/<filter>` is a subscription to `<filter>`."""
    if topic.startswith("$share/"):
        parts = topic.split("/", 2)
        return parts[2] if len(parts) == 3 and parts[1] else ""
    return topic


def badge_may(device_id: str, topic: str, action: Action) -> bool:
    return _own(topic, device_id, UPSTREAM if action == "publish" else DOWNSTREAM)


def service_may(topic: str, action: Action) -> bool:
    """keel's account: the downstream topics of any badge (and its health topic) out, every
    badge's upstream topics in."""
    if action == "publish":
        if topic.startswith(f"{HEALTH_TOPIC}/"):
            return True
        return _device_topic(topic, DOWNSTREAM, wildcard=False)
    return _device_topic(_unshared(topic), UPSTREAM, wildcard=True)


def _device_topic(topic: str, kinds: tuple[str, ...], *, wildcard: bool) -> bool:
    prefix = f"{TOPIC_ROOT}/"
    if not topic.startswith(prefix):
        return False
    device_id, _, kind = topic.removeprefix(prefix).partition("/")
    if device_id == "+":
        return wildcard and kind in kinds
    return bool(device_id) and not set("+#") & set(device_id) and kind in kinds


async def _stored_hash(db: Executor, username: str) -> tuple[bool, str | None]:
    row = (await db.execute(select(Device.mqtt_password_hash).where(Device.device_id == username))).first()
    return (row is not None and row[0] is not None), (row[0] if row else None)


async def authenticate(db: Executor, settings: Settings, username: str | None, password: str | None) -> bool:
    """EMQX's connect: keel's own account, or a badge with a broker identity and its password."""
    if not username or password is None:
        return False
    service = Endpoint.of(settings)
    if username == service.username:
        return hmac.compare_digest(password.encode(), (service.password or "").encode())
    _, stored = await _stored_hash(db, username)
    return password_matches(password, stored)


async def authorize(
    db: Executor, settings: Settings, username: str | None, topic: str, action: Action
) -> bool:
    """EMQX's publish and subscribe: the rules above, for keel's account or a badge that still
    has its identity (a decommissioned badge's open connection is refused from then on)."""
    if not username:
        return False
    if username == Endpoint.of(settings).username:
        return service_may(topic, action)
    has_identity, _ = await _stored_hash(db, username)
    return has_identity and badge_may(username, topic, action)


# Mosquitto's dynamic-security plugin.


def _acl(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "allow": True}


def badge_role(device_id: str) -> str:
    return f"badge-{device_id}"


def badge_acls(device_id: str) -> list[dict[str, Any]]:
    return [_acl("publishClientSend", f"{TOPIC_ROOT}/{device_id}/{kind}") for kind in UPSTREAM] + [
        _acl("subscribeLiteral", f"{TOPIC_ROOT}/{device_id}/{kind}") for kind in DOWNSTREAM
    ]


def service_acls() -> list[dict[str, Any]]:
    """What keel's account needs beyond the plugin's `admin` role (which already subscribes
    and receives every topic, `$share/...` included): to publish downstream and on its health topic."""
    return [_acl("publishClientSend", f"{TOPIC_ROOT}/+/{kind}") for kind in DOWNSTREAM] + [
        _acl("publishClientSend", f"{HEALTH_TOPIC}/#")
    ]


def _closed_by_broker(client: aiomqtt.Client) -> None:
    """A connection the broker closed (the plugin closes keel's own when it gets a role) leaves
    its error in aiomqtt's disconnect future, which nothing awaits once the wait is over: read
    here so it is not reported as never retrieved."""
    disconnected = client._disconnected
    if disconnected.done() and not disconnected.cancelled():
        disconnected.exception()


class BrokerError(ServiceUnavailable):
    """The broker did not make the change: nothing is committed, the request can be retried."""


class Dynsec:
    """Commands to the plugin, each batch in one control message on a short connection of its
    own (registrations are rare; the ingest's session stays out of it). Every keel process
    logs in with the same account and so receives every answer: each command carries its own
    `correlationData` and only those answers are read."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint

    async def run(
        self,
        commands: list[dict[str, Any]],
        tolerated: dict[str, str] | None = None,
        wait: float = _ANSWER_SECONDS,
    ) -> list[dict[str, Any]]:
        """The answers, in order. Raises BrokerError unless every command succeeded, or failed
        with the error text `tolerated` gives for its command name (e.g. deleting what is not there)."""
        batch = uuid.uuid4().hex
        commands = [{**command, "correlationData": f"{batch}-{n}"} for n, command in enumerate(commands)]
        wanted = {command["correlationData"] for command in commands}
        client = self.endpoint.client(identifier=f"keel-dynsec-{batch}")
        try:
            async with client, asyncio.timeout(wait):
                await client.subscribe(RESPONSE_TOPIC, qos=1)
                await client.publish(CONTROL_TOPIC, orjson.dumps({"commands": commands}), qos=1)
                answers = await self._answers(client, wanted)
        except (aiomqtt.MqttError, TimeoutError) as error:
            log.warning("dynamic-security commands not answered", extra={"error": str(error)})
            raise BrokerError("The MQTT broker did not answer; try again") from None
        finally:
            _closed_by_broker(client)
        for answer in answers:
            error, allowed = answer.get("error"), (tolerated or {}).get(answer.get("command", ""))
            if error and not (allowed and allowed in str(error)):
                log.warning("dynamic-security refused a command", extra={"answer": answer})
                raise BrokerError(f"The MQTT broker refused {answer.get('command')}: {error}")
        return sorted(answers, key=lambda answer: int(answer["correlationData"].rsplit("-", 1)[1]))

    @staticmethod
    async def _answers(client: aiomqtt.Client, wanted: set[str]) -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = []
        async for message in client.messages:
            try:
                body = orjson.loads(message.payload)  # type: ignore[arg-type]
            except orjson.JSONDecodeError:
                continue
            answers += [a for a in body.get("responses", []) if a.get("correlationData") in wanted]
            if len(answers) >= len(wanted):
                return answers
        return answers

    async def create(self, device_id: str, password: str) -> None:
        """The badge's client and role, made afresh: for a new badge, for a new password
        (deleting the client closes the connection made with the old one, where setting a
        password alone would leave it connected), and over what a registration whose commit
        failed after the broker made them left behind."""
        await self.run(
            [
                {"command": "deleteClient", "username": device_id},
                {"command": "deleteRole", "rolename": badge_role(device_id)},
                {"command": "createRole", "rolename": badge_role(device_id), "acls": badge_acls(device_id)},
                {
                    "command": "createClient",
                    "username": device_id,
                    "password": password,
                    "roles": [{"rolename": badge_role(device_id)}],
                },
            ],
            tolerated={"deleteClient": "not found", "deleteRole": "not found"},
        )

    async def remove(self, device_id: str) -> None:
        """Deleting the client closes its connection; an identity already gone is fine."""
        await self.run(
            [
                {"command": "deleteClient", "username": device_id},
                {"command": "deleteRole", "rolename": badge_role(device_id)},
            ],
            tolerated={"deleteClient": "not found", "deleteRole": "not found"},
        )

    async def ensure_service_role(self) -> None:
        """keel's role and its ACLs (each already there is fine), on keel's account. Giving a
        client a role closes its connections (Mosquitto 2.0.11), this one's too, so its answer
        may never come: that happens once, the first time, and is checked afterwards."""
        username = self.endpoint.username
        await self.run(
            [
                {"command": "createRole", "rolename": SERVICE_ROLE},
                *({"command": "addRoleACL", "rolename": SERVICE_ROLE, **acl} for acl in service_acls()),
            ],
            tolerated={"createRole": "already exists", "addRoleACL": "already exists"},
        )
        if await self._has_service_role(username):
            return
        try:
            # The publish's acknowledgement never comes either: a short wait.
            await self.run(
                [{"command": "addClientRole", "username": username, "rolename": SERVICE_ROLE}], wait=1
            )
        except BrokerError:
            pass
        if not await self._has_service_role(username):
            raise BrokerError(f"The MQTT broker did not give {username!r} the role {SERVICE_ROLE!r}")

    async def _has_service_role(self, username: str | None) -> bool:
        (answer,) = await self.run([{"command": "getClient", "username": username}])
        roles = answer.get("data", {}).get("client", {}).get("roles", [])
        return any(role.get("rolename") == SERVICE_ROLE for role in roles)


def dynsec(settings: Settings) -> Dynsec | None:
    return Dynsec(Endpoint.of(settings)) if settings.badge_mqtt_dynsec else None


@dataclass(frozen=True)
class Identities:
    """Badges' broker identities as the settings choose: none (an open broker), EMQX's hooks
    (keel's hash is all there is), or the plugin (told at once, before the request commits,
    so a change the broker refused is not committed either)."""

    enabled: bool
    dynsec: Dynsec | None

    @classmethod
    def of(cls, settings: Settings) -> "Identities":
        return cls(enabled(settings), dynsec(settings))

    async def give(self, device: Device) -> str | None:
        """A new password for the badge (None when the broker takes no credentials): its
        hash on the row, and with the plugin its client made again with it."""
        if not self.enabled:
            return None
        password = new_password()
        device.mqtt_password_hash = password_hash(password)
        if self.dynsec is not None:
            await self.dynsec.create(device.device_id, password)
        return password

    async def remove(self, device: Device) -> None:
        device.mqtt_password_hash = None
        if self.dynsec is not None:
            await self.dynsec.remove(device.device_id)
