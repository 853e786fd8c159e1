"""Storing what devices send (heartbeats, logs, status), the same for MQTT and HTTP: a batch
of messages becomes one multi-row insert per table and one update of the devices' last
heartbeat, in one transaction."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from keel.apps.badge.models import Device, DeviceStatus, ErrorLog, Heartbeat
from keel.apps.badge.schemas import HeartbeatIn, LogIn, StatusIn
from keel.apps.badge.services import alerts
from keel.core.db import utcnow

KINDS = {"heartbeat": HeartbeatIn, "logs": LogIn, "status": StatusIn}

_touch = (
    update(Device.__table__)
    .where(Device.__table__.c.device_id == bindparam("b_device_id"))
    .values(last_heartbeat=bindparam("b_seen"), status=bindparam("b_status"))
)


def parse(kind: str, payload: bytes | str) -> HeartbeatIn | LogIn | StatusIn:
    """The payload checked against its kind's schema; ValueError says what is wrong."""
    try:
        return KINDS[kind].model_validate(orjson.loads(payload))
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    except ValidationError as error:
        raise ValueError(str(error)) from None


@dataclass
class Batch:
    """Messages collected for one insert, each as (device_id, parsed payload)."""

    items: list[tuple[str, HeartbeatIn | LogIn | StatusIn]] = field(default_factory=list)

    def add(self, device_id: str, message: HeartbeatIn | LogIn | StatusIn) -> None:
        self.items.append((device_id, message))

    def __len__(self) -> int:
        return len(self.items)


async def known_devices(connection: AsyncConnection, device_ids: set[str]) -> set[str]:
    rows = await connection.execute(select(Device.device_id).where(Device.device_id.in_(device_ids)))
    return set(rows.scalars())


async def store(connection: AsyncConnection, batch: Batch, *, received_at: datetime | None = None) -> int:
    """Insert the batch's rows (devices must exist) in the caller's transaction; rows stored."""
    now = received_at or utcnow()
    beats: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    critical: defaultdict[str, int] = defaultdict(int)
    for device_id, message in batch.items:
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
    if beats:
        await connection.execute(insert(Heartbeat), beats)
        # In device order, so concurrent batches lock the devices' rows in the same order.
        touched = [{"b_device_id": d, "b_seen": now, "b_status": s} for d, s in sorted(seen.items())]
        await connection.execute(_touch, touched)
    if logs:
        await connection.execute(insert(ErrorLog), logs)
    if statuses:
        await connection.execute(insert(DeviceStatus), statuses)
    if critical:
        await alerts.on_critical_logs(connection, set(critical), now)
    return len(beats) + len(logs) + len(statuses)
