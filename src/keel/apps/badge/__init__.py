"""badge: the Luna Badge device cloud (spec 004): devices, logs, OTA versions, modules, config
centre, error codes and alerts, with MQTT ingest and push."""

import asyncio
import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI

from keel.apps.badge.models import Base
from keel.apps.badge.routes import routers
from keel.apps.badge.seed import seed
from keel.apps.badge.services import alerts
from keel.apps.badge.services.mqtt import MqttBridge
from keel.core import health
from keel.core.app import KeelApp

log = logging.getLogger("keel.badge")
SWEEP_SECONDS = 30


async def _sweep_offline_devices(api: FastAPI) -> None:
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            async with api.state.database.sessionmaker() as session:
                await alerts.sweep_offline(session)
                await session.commit()
        except Exception:  # the next sweep tries again; a failed one must not end the loop
            log.exception("offline sweep failed")


async def _start(api: FastAPI) -> None:
    settings = api.state.settings
    api.state.badge_sweeper = asyncio.create_task(_sweep_offline_devices(api), name="badge-offline-sweep")
    if settings.badge_mqtt_url:
        api.state.badge_mqtt = MqttBridge(settings, api.state.database)
        health.register(api, "mqtt", api.state.badge_mqtt.ping)
        await api.state.badge_mqtt.start()


async def _stop(api: FastAPI) -> None:
    sweeper = getattr(api.state, "badge_sweeper", None)
    if sweeper is not None:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    bridge = getattr(api.state, "badge_mqtt", None)
    if bridge is not None:
        await bridge.stop()
        api.state.badge_mqtt = None


app = KeelApp(
    slug="badge",
    title="keel badge",
    description="Luna Badge device cloud: devices, logs, OTA versions, modules, configs, error codes, "
    "alerts; MQTT ingest and push (spec 004).",
    routers=routers,
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    on_startup=(_start,),
    on_shutdown=(_stop,),
)
