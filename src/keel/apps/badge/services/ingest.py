"""Storing what devices send (heartbeats, logs, status, presence, applied config), the same for
MQTT and HTTP: a batch of messages becomes one multi-row insert per table and one update of the
devices' last heartbeat, in one transaction.

A device whose heartbeat or `online` presence finds it offline has come back: its offline
alerts are resolved and the caller pushes its config delta (after the commit)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from keel.apps.badge.models import Device, DeviceStatus, ErrorLog, Heartbeat
from keel.apps.badge.schemas import ConfigReportedIn, HeartbeatIn, LogIn, PresenceIn, PresenceStatus, StatusIn
from keel.apps.badge.services import alerts, configs, devices
from keel.core.db import utcnow

Message = HeartbeatIn | LogIn | StatusIn | PresenceIn | ConfigReportedIn

# By topic suffix (`luna/device/{id}/<kind>`).
KINDS = {
    "heartbeat": HeartbeatIn,
    "logs": LogIn,
    "status": StatusIn,
    "lwt": PresenceIn,
    "config/reported": ConfigReportedIn,
}

_devices = Device.__table__
_touch = (
    update(_devices)
    .where(_devices.c.device_id == bindparam("b_device_id"))
    .values(last_heartbeat=bindparam("b_seen"), status=bindparam("b_status"), offline_at=None)
)
_gone = (
    update(_devices)
    .where(_devices.c.device_id == bindparam("b_device_id"))
    .values(offline_at=bindparam("b_at"), status="offline")
)
_counted = (
    update(_devices)
    .where(_devices.c.device_id == bindparam("b_device_id"))
    .values(
        rejected=_devices.c.rejected + bindparam("b_count"),
        last_rejected_reason=bindparam("b_reason"),
        last_rejected_at=bindparam("b_at"),
        updated_at=_devices.c.updated_at,
    )
)


def parse(kind: str, payload: bytes | str) -> Message:
    """The payload checked against its kind's schema; ValueError says what is wrong."""
    try:
        return KINDS[kind].model_validate(orjson.loads(payload))
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    except ValidationError as error:
        raise ValueError(str(error)) from None


@dataclass
class Batch:
    """Messages collected for one insert, each as (device_id, parsed payload), and the
    messages refused on the way, per device: (how many, the last reason)."""

    items: list[tuple[str, Message]] = field(default_factory=list)
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, device_id: str, message: Message) -> None:
        self.items.append((device_id, message))

    def reject(self, device_id: str, reason: str) -> None:
        count, _last = self.rejected.get(device_id, (0, ""))
        self.rejected[device_id] = (count + 1, reason[:500])

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class Stored:
    # Messages taken (rows written, presence and config reports included).
    messages: int
    # Devices that were offline until this batch: their config delta is due.
    came_online: set[str]


async def count_rejected(
    connection: AsyncConnection, rejected: dict[str, tuple[int, str]], now: datetime
) -> None:
    """One statement for the whole batch's refusals (an unknown device's change no row)."""
    rows = [
        {"b_device_id": device_id, "b_count": count, "b_reason": reason, "b_at": now}
        for device_id, (count, reason) in sorted(rejected.items())
    ]
    await connection.execute(_counted, rows)


async def _offline_among(
    connection: AsyncConnection, device_ids: set[str], now: datetime, offline_after: int
) -> set[str]:
    """Which of the devices are offline (as the device list says) before this batch touches them."""
    rows = await connection.execute(
        select(Device.device_id).where(
            Device.device_id.in_(device_ids), devices.offline_condition(now, offline_after)
        )
    )
    return set(rows.scalars())


async def known_devices(connection: AsyncConnection, device_ids: set[str]) -> set[str]:
    rows = await connection.execute(select(Device.device_id).where(Device.device_id.in_(device_ids)))
    return set(rows.scalars())


async def store(
    connection: AsyncConnection, batch: Batch, *, offline_after: int, received_at: datetime | None = None
) -> Stored:
    """Insert the batch's rows (devices must exist) in the caller's transaction."""
    now = received_at or utcnow()
    beats: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    reports: list[tuple[str, ConfigReportedIn]] = []
    # The batch's last word per device: alive (with its status) or gone (its will message).
    seen: dict[str, str] = {}
    gone: set[str] = set()
    critical: defaultdict[str, int] = defaultdict(int)
    for device_id, message in batch.items:
        if isinstance(message, PresenceIn):
            if message.status is PresenceStatus.online:
                seen[device_id] = "online"
                gone.discard(device_id)
            else:
                gone.add(device_id)
                seen.pop(device_id, None)
            continue
        if isinstance(message, ConfigReportedIn):
            reports.append((device_id, message))
            continue
        if isinstance(message, HeartbeatIn):
            beats.append(
                {
                    "device_id": device_id,
                    "occurred_at": message.timestamp,
                    "received_at": now,
                    "status": message.status,
                    "cpu_usage": message.cpu_usage,
                    "memory_usage": message.memory_usage,
                    "temperature": message.temperature,
                }
            )
            seen[device_id] = message.status
            gone.discard(device_id)
        elif isinstance(message, LogIn):
            logs.append(
                {
                    "device_id": device_id,
                    "error_code": message.code,
                    "error_level": message.level.value,
                    "error_message": message.message,
                    "error_details": message.details,
                    "module_name": message.module,
                    "stack_trace": message.stack_trace,
                    "occurred_at": message.timestamp,
                }
            )
            if message.level.value == "critical":
                critical[device_id] += 1
        else:
            statuses.append(
                {
                    "device_id": device_id,
                    "occurred_at": message.timestamp,
                    "received_at": now,
                    "modules": message.modules,
                    "performance": message.performance,
                }
            )
    came_online: set[str] = set()
    if beats:
        await connection.execute(insert(Heartbeat), beats)
    if seen:
        came_online = await _offline_among(connection, set(seen), now, offline_after)
        # In device order, so concurrent batches lock the devices' rows in the same order.
        touched = [{"b_device_id": d, "b_seen": now, "b_status": s} for d, s in sorted(seen.items())]
        await connection.execute(_touch, touched)
        if came_online:
            await alerts.resolve_offline(connection, came_online, now)
    if gone:
        await connection.execute(_gone, [{"b_device_id": d, "b_at": now} for d in sorted(gone)])
    if reports:
        await configs.report_applied(connection, reports, now)
    if logs:
        await connection.execute(insert(ErrorLog), logs)
    if statuses:
        await connection.execute(insert(DeviceStatus), statuses)
    if critical:
        await alerts.on_critical_logs(connection, set(critical), now)
    return Stored(len(batch), came_online)
