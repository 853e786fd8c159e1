"""The MQTT side of the badge cloud: one client per process that consumes what devices publish
(`luna/device/+/heartbeat|logs|status|lwt|config/reported`) into the database in batches, and
publishes what the cloud sends them (`config/update`, `command`, `update`).

Every process subscribes through one shared subscription (`$share/<group>/...`): the broker
hands each message to one member of the group, so N processes (on any number of hosts) store
it once between them, where N plain subscriptions would store it N times.

Nothing a device sent with QoS 1 is lost: the session is persistent (MQTT 5, clean start off,
a session expiry, a client id that survives restarts), and a message is acknowledged only once
the batch holding it has committed. aiomqtt acknowledges on receipt and has no switch for it,
so the paho client underneath is put in manual-ack mode. A crash between the commit and the
acknowledgement makes the broker deliver those messages again: delivery is at least once,
never at most once.

A payload that is not JSON or not its topic's schema is dropped and counted on its device
(`rejected`, the last reason), in the same transaction as the batch it came in: one statement
per batch, not one per message.

Because acknowledgements wait for the commit, the number of unacknowledged messages the broker
may have in flight to us bounds the batch: MQTT 3.1.1 leaves it to the broker's configuration
(Mosquitto's default is 20, which made every batch 20 rows and let a burst overflow the
broker's queue), so the client connects with MQTT 5 and states its own Receive Maximum, two
batches, so one batch arrives while the previous one commits.
"""

import asyncio
import fcntl
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client import Counter
from sqlalchemy.exc import DBAPIError, IntegrityError

from keel.apps.badge.services import broker, configs, ingest
from keel.core.db import Database, utcnow
from keel.core.errors import is_refused_value
from keel.settings import Settings

log = logging.getLogger("keel.badge.mqtt")

MESSAGES = Counter(
    "keel_badge_mqtt_messages_total",
    "MQTT messages from devices, by outcome: stored, malformed (dropped), unknown_device (refused)",
    ["outcome"],
)
PUBLISHED = Counter("keel_badge_mqtt_published_total", "Messages published to devices, by result", ["result"])

TOPIC_ROOT = broker.TOPIC_ROOT
SUBSCRIPTIONS = broker.UPSTREAM
_BACKOFF_MIN, _BACKOFF_MAX = 0.5, 30.0
_RECEIVE_MAXIMUM_LIMIT = 65535  # the largest the MQTT 5 property can say
HEALTH_TOPIC = broker.HEALTH_TOPIC


def topic(device_id: str, suffix: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/{suffix}"


def _claim_slot(folder: Path, base: str) -> tuple[str, IO[str]]:
    """A client id that is the same after a restart and unique among this host's processes:
    the first numbered lock file this process can hold. Two processes with one id would
    take the session from each other in turn."""
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(1024):
        handle = (folder / f"badge-mqtt-{slot}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return f"{base}-{slot}", handle
    raise RuntimeError("no free MQTT client slot")


class MqttBridge:
    def __init__(self, settings: Settings, database: Database):
        self.endpoint = broker.Endpoint.of(settings)
        self.host, self.port = self.endpoint.host, self.endpoint.port
        # With Mosquitto's plugin, keel's role is made on each connection (services/broker.py).
        self.dynsec = broker.dynsec(settings)
        self.database = database
        self.batch_size = settings.badge_ingest_batch_size
        self.batch_wait = settings.badge_ingest_batch_ms / 1000
        self.share_group = settings.badge_mqtt_share_group
        self.session_expiry = settings.badge_mqtt_session_expiry_seconds
        self.offline_after = settings.badge_offline_after_seconds
        self.secret_key = settings.secret_key
        self.client_id, self._slot = _claim_slot(settings.data_dir, settings.badge_mqtt_client_id)
        # Config deltas being pushed to devices that came back (kept so they are not collected).
        self._pushes: set[asyncio.Task[None]] = set()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        # This process's share of the group's messages so far (the broker hands them out in turn).
        self.received = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="badge-mqtt")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._slot.close()

    async def publish(self, device_id: str, suffix: str, payload: dict[str, Any]) -> bool:
        """QoS 1 to the device's persistent session. False when the broker is unreachable: the
        device reads the same state over HTTP (its config, `versions/check`)."""
        client = self._client
        if client is None or not self.connected.is_set():
            PUBLISHED.labels("unavailable").inc()
            log.warning("MQTT is down; not published", extra={"topic": topic(device_id, suffix)})
            return False
        try:
            await client.publish(
                topic(device_id, suffix), orjson.dumps(payload, default=str), qos=1, timeout=10
            )
        except (aiomqtt.MqttError, TimeoutError):
            PUBLISHED.labels("failed").inc()
            log.warning("MQTT publish failed", extra={"topic": topic(device_id, suffix)})
            return False
        PUBLISHED.labels("ok").inc()
        return True

    async def ping(self) -> None:
        """The health check: this process's session is up and the broker acknowledges a QoS 1
        publish on it (a half-open connection fails here before keepalive would notice)."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise ConnectionError(f"not connected to {self.host}:{self.port}")
        await client.publish(f"{HEALTH_TOPIC}/{self.client_id}", b"", qos=1, timeout=2)

    def _connect_properties(self) -> Properties:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry
        properties.ReceiveMaximum = min(2 * self.batch_size, _RECEIVE_MAXIMUM_LIMIT)
        return properties

    async def _run(self) -> None:
        backoff = _BACKOFF_MIN
        while True:
            client = self.endpoint.client(
                identifier=self.client_id,
                protocol=aiomqtt.ProtocolVersion.V5,
                # False, not aiomqtt's default "first connection only": a restarted process
                # must take back the session (and what the broker queued for it).
                clean_start=False,
                properties=self._connect_properties(),
                keepalive=30,
            )
            # Acknowledged after the commit, not on receipt (see the module's docstring).
            client._client.manual_ack_set(True)
            try:
                if self.dynsec is not None:
                    # Before the session connects: the first time, it closes keel's connections.
                    await self.dynsec.ensure_service_role()
                async with client:
                    for kind in SUBSCRIPTIONS:
                        await client.subscribe(f"$share/{self.share_group}/{TOPIC_ROOT}/+/{kind}", qos=1)
                    self._client = client
                    self.connected.set()
                    backoff = _BACKOFF_MIN
                    log.info("MQTT connected", extra={"broker": f"{self.host}:{self.port}"})
                    await self._consume(client)
            except (aiomqtt.MqttError, broker.BrokerError) as error:
                log.warning("MQTT connection lost; reconnecting", extra={"error": str(error), "in": backoff})
            except Exception:  # the consumer must outlive any one failure; unacked messages come back
                log.exception("MQTT consumer failed; reconnecting")
            finally:
                self.connected.clear()
                self._client = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _consume(self, client: aiomqtt.Client) -> None:
        messages = client.messages
        while True:
            batch = [await anext(messages)]
            if len(messages) < self.batch_size:
                # Let a burst gather: one insert of many rows costs about what one row does.
                await asyncio.sleep(self.batch_wait)
            while len(batch) < self.batch_size and len(messages):
                batch.append(await anext(messages))
            self.received += len(batch)
            await self._store(batch)
            for message in batch:  # in the order received, as MQTT asks of acknowledgements
                if message.qos > 0:
                    client._client.ack(message.mid, message.qos)

    def _parse(self, messages: list[aiomqtt.Message]) -> ingest.Batch:
        batch = ingest.Batch()
        for message in messages:
            # luna/device/<device_id>/<kind>, where a kind may have a slash (config/reported)
            device_id, _, kind = message.topic.value.removeprefix(f"{TOPIC_ROOT}/").partition("/")
            try:
                if kind not in ingest.KINDS:
                    raise ValueError(f"unexpected topic {message.topic.value}")
                payload = message.payload if isinstance(message.payload, bytes | str) else b""
                batch.add(device_id, ingest.parse(kind, payload))
            except ValueError as error:
                MESSAGES.labels("malformed").inc()
                batch.reject(device_id, f"{kind}: {error}")
                log.info(
                    "malformed MQTT payload dropped",
                    extra={"topic": message.topic.value, "error": str(error)[:300]},
                )
        return batch

    async def _store(self, messages: list[aiomqtt.Message]) -> None:
        """Store the batch, retrying while the database is unreachable: the messages stay
        unacknowledged meanwhile, so the broker keeps them."""
        batch = self._parse(messages)
        if not batch and not batch.rejected:
            return
        backoff = _BACKOFF_MIN
        while True:
            try:
                await self._insert(batch)
                return
            except (IntegrityError, DBAPIError) as error:
                if isinstance(error, IntegrityError) or is_refused_value(error):
                    # One bad row must not hold the others back: store them one at a time.
                    await self._insert_each(batch)
                    return
                log.warning("storing an MQTT batch failed; retrying", extra={"error": str(error)[:300]})
            except OSError as error:
                log.warning("database unreachable; retrying", extra={"error": str(error)[:300]})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _insert(self, batch: ingest.Batch) -> None:
        started = time.perf_counter()
        changes: list[configs.Change] = []
        async with self.database.engine.begin() as connection:
            known = await ingest.known_devices(connection, {device_id for device_id, _ in batch.items})
            accepted = ingest.Batch([item for item in batch.items if item[0] in known])
            stored = 0
            if accepted:
                result = await ingest.store(connection, accepted, offline_after=self.offline_after)
                changes = await configs.delta(connection, result.came_online, secret_key=self.secret_key)
                stored = result.messages
            if batch.rejected:
                await ingest.count_rejected(connection, batch.rejected, utcnow())
        self._push(changes)
        refused = len(batch) - len(accepted)
        if refused:
            MESSAGES.labels("unknown_device").inc(refused)
            log.info("MQTT messages from unknown devices refused", extra={"count": refused})
        MESSAGES.labels("stored").inc(stored)
        log.debug(
            "batch stored", extra={"rows": stored, "ms": round((time.perf_counter() - started) * 1000, 1)}
        )

    async def _insert_each(self, batch: ingest.Batch) -> None:
        refused = ingest.Batch(rejected=dict(batch.rejected))
        for item in batch.items:
            try:
                await self._insert(ingest.Batch([item]))
            except (IntegrityError, DBAPIError) as error:
                MESSAGES.labels("malformed").inc()
                refused.reject(item[0], f"refused by the database: {error.orig or error}")
                log.info("MQTT message refused by the database", extra={"error": str(error)[:300]})
        if refused.rejected:
            await self._insert(refused)

    def _push(self, changes: list[configs.Change]) -> None:
        """The config deltas of devices that came back, sent beside the ingest, not in its way."""
        if changes:
            self.background(partial(self._publish_changes, changes))

    def background(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Pushes that run beside whatever started them (kept here so they are not collected)."""
        task = asyncio.create_task(self._logged(work))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    @staticmethod
    async def _logged(work: Callable[[], Awaitable[Any]]) -> None:
        try:
            await work()
        except Exception:  # nobody awaits the task: say so here
            log.exception("MQTT push failed")

    async def _publish_changes(self, changes: list[configs.Change]) -> None:
        for change in changes:
            await self.publish(change.device_id, "config/update", configs.message(change))


Publish = Callable[[str, str, dict[str, Any]], Awaitable[bool]]


async def _nowhere(_device_id: str, _suffix: str, _payload: dict[str, Any]) -> bool:
    return False


@asynccontextmanager
async def publisher(settings: Settings) -> AsyncIterator[Publish]:
    """A connection of its own for pushes made outside a request: the rollouts sweep also runs
    in `keel worker`, which has no bridge. Publishes nothing when MQTT is off or unreachable
    (badges read the same state from `versions/check`)."""
    if not settings.badge_mqtt_url:
        yield _nowhere
        return
    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(broker.Endpoint.of(settings).client())
        except aiomqtt.MqttError as error:
            PUBLISHED.labels("unavailable").inc()
            log.warning("MQTT is down; sweep pushes not published", extra={"error": str(error)})
            yield _nowhere
            return

        async def send(device_id: str, suffix: str, payload: dict[str, Any]) -> bool:
            try:
                await client.publish(
                    topic(device_id, suffix), orjson.dumps(payload, default=str), qos=1, timeout=10
                )
            except (aiomqtt.MqttError, TimeoutError):
                PUBLISHED.labels("failed").inc()
                return False
            PUBLISHED.labels("ok").inc()
            return True

        yield send
