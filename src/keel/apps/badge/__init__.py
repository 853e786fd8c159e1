"""badge: the Luna Badge device cloud (spec 004): devices, logs, OTA versions, modules, config
centre, error codes and alerts, with MQTT ingest and push."""

from functools import partial
from pathlib import Path

from fastapi import FastAPI

from keel.apps.badge.models import Base, DeviceStatus, ErrorLog, Heartbeat, HeartbeatDaily, SweepLease
from keel.apps.badge.routes import routers
from keel.apps.badge.seed import seed
from keel.apps.badge.services import alerts, rollouts, rollups
from keel.apps.badge.services.mqtt import MqttBridge, publisher
from keel.core import health
from keel.core.app import KeelApp
from keel.core.db import Database
from keel.core.retention import Prunable, prunables
from keel.core.sweeps import Sweep
from keel.settings import Settings


async def _sweep_offline_devices(database: Database, settings: Settings) -> None:
    async with database.sessionmaker() as session:
        await alerts.sweep_offline(session, settings.badge_offline_after_seconds)
        await session.commit()


# Once per deployment per interval (core/sweeps.py): with a sweep per process, two processes
# could each raise the same device's offline alert.
OFFLINE_SWEEP = Sweep(
    "offline", _sweep_offline_devices, lambda settings: settings.badge_offline_sweep_seconds
)


async def _roll_up_heartbeats(database: Database, _settings: Settings) -> None:
    await rollups.sweep(database)


# Issue 17 item 9: each finished day's heartbeats rolled up per device, once per deployment.
ROLLUP_SWEEP = Sweep(
    "heartbeat_rollup", _roll_up_heartbeats, lambda settings: settings.badge_rollup_sweep_seconds
)


async def _advance_rollouts(database: Database, settings: Settings) -> None:
    await rollouts.sweep(database, partial(publisher, settings))


# Issue 17 item 5: rollouts past their failure threshold stopped, and each next wave started
# after its soak, once per deployment (two processes would start the same wave twice).
ROLLOUT_SWEEP = Sweep("rollouts", _advance_rollouts, lambda settings: settings.badge_rollout_sweep_seconds)


async def _start(api: FastAPI) -> None:
    settings = api.state.settings
    if settings.badge_mqtt_url:
        api.state.badge_mqtt = MqttBridge(settings, api.state.database)
        health.register(api, "mqtt", api.state.badge_mqtt.ping)
        await api.state.badge_mqtt.start()


async def _stop(api: FastAPI) -> None:
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
    sweep_lease=SweepLease,
    sweeps=(OFFLINE_SWEEP, ROLLUP_SWEEP, ROLLOUT_SWEEP),
    # Spec 004 names no retention for device data: heartbeats and status reports go after
    # KEEL_RETENTION_HEARTBEATS_DAYS, error logs after KEEL_RETENTION_DEVICE_LOGS_DAYS.
    retention=prunables(
        Base,
        Prunable(Heartbeat, "received_at", "retention_heartbeats_days"),
        Prunable(DeviceStatus, "received_at", "retention_heartbeats_days"),
        Prunable(ErrorLog, "occurred_at", "retention_device_logs_days"),
        # The daily rollups outlive the heartbeats they were computed from (services/rollups.py).
        Prunable(HeartbeatDaily, "day", "retention_heartbeat_rollups_days"),
    ),
    on_startup=(_start,),
    on_shutdown=(_stop,),
)
