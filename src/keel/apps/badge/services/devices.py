"""Devices: registration with credentials shown once, the fleet list with online/offline from
the last heartbeat and the broker's will message, and one device's detail with its latest
heartbeat and status."""

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.badge.models import Device, DeviceStatus, Heartbeat, HeartbeatDaily, User
from keel.apps.badge.schemas import DeviceRegister, DeviceUpdate, OnlineStatus
from keel.apps.badge.services import broker, crypto
from keel.core.db import Executor, utcnow
from keel.core.errors import Conflict, NotFound, Unprocessable
from keel.core.pagination import PageRequest, fetch_page, page_of
from keel.core.security.tokens import TokenService

_COLUMNS = [
    column
    for column in Device.__table__.columns
    if column.key not in ("secret_encrypted", "mqtt_password_hash")
]


# Online, everywhere it is answered or alerted on (issue 17 item 7): a heartbeat (or a
# connection) within KEEL_BADGE_OFFLINE_AFTER_SECONDS, and no will message since.
def online_status(
    last_heartbeat: datetime | None, offline_at: datetime | None, offline_after: int
) -> OnlineStatus:
    recent = last_heartbeat is not None and last_heartbeat >= utcnow() - timedelta(seconds=offline_after)
    return OnlineStatus.online if recent and offline_at is None else OnlineStatus.offline


def offline_condition(now: datetime, offline_after: int) -> ColumnElement[bool]:
    """The same rule as a query condition (never-heard-from devices included)."""
    cutoff = now - timedelta(seconds=offline_after)
    return or_(
        Device.last_heartbeat.is_(None), Device.last_heartbeat < cutoff, Device.offline_at.is_not(None)
    )


def owned_by(owner: int) -> Select[Any]:
    """The ids of the badges bound to a user (issue 17 item 8), for `device_id IN (...)`."""
    return select(Device.device_id).where(Device.user_id == owner)


def _visible(statement: Select[Any], owner: int | None) -> Select[Any]:
    return statement if owner is None else statement.where(Device.user_id == owner)


def _answer(row: Any, offline_after: int) -> dict[str, Any]:
    fields = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    fields["status"] = online_status(fields["last_heartbeat"], fields["offline_at"], offline_after)
    return fields


async def register(
    session: AsyncSession,
    data: DeviceRegister,
    *,
    secret_key: str,
    tokens: TokenService,
    identities: broker.Identities,
) -> dict[str, Any]:
    if data.user_id is not None and await session.get(User, data.user_id) is None:
        raise Unprocessable(f"No user {data.user_id}", loc=("body", "user_id"))
    if (await session.execute(select(Device.id).where(Device.device_id == data.device_id))).first():
        raise Conflict(f"Device {data.device_id!r} is already registered")
    secret = secrets.token_urlsafe(32)
    device = Device(**data.model_dump(), secret_encrypted=crypto.encrypt(secret_key, secret))
    session.add(device)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"Device {data.device_id!r} is already registered") from None
    mqtt_password = await identities.give(device)
    await session.flush()
    token, _claims = tokens.issue_access(f"device:{device.device_id}", role="device")
    fields = {column.key: getattr(device, column.key) for column in _COLUMNS}
    return {
        **_answer(fields, 1),
        "device_secret": secret,
        "device_token": token,
        **_mqtt_credentials(device, mqtt_password),
    }


def _mqtt_credentials(device: Device, password: str | None) -> dict[str, str | None]:
    return {"mqtt_username": device.device_id if password else None, "mqtt_password": password}


async def _device(session: AsyncSession, device_id: str) -> Device:
    device = (await session.execute(select(Device).where(Device.device_id == device_id))).scalar_one_or_none()
    if device is None:
        raise NotFound(f"No device {device_id!r}")
    return device


async def new_mqtt_password(
    session: AsyncSession, device_id: str, identities: broker.Identities
) -> dict[str, Any]:
    """A new broker password, answered once; the old one stops working at once."""
    if not identities.enabled:
        raise Conflict(
            "This broker takes no device credentials (KEEL_BADGE_MQTT_DYNSEC, KEEL_BADGE_MQTT_HOOK_TOKEN)"
        )
    device = await _device(session, device_id)
    password = await identities.give(device)
    await session.flush()
    return {"device_id": device_id, **_mqtt_credentials(device, password)}


async def decommission(session: AsyncSession, device_id: str, identities: broker.Identities) -> None:
    """The badge's broker identity first (so it is out at once), then the badge and, through
    the foreign keys, everything it sent and everything kept for it."""
    device = await _device(session, device_id)
    await identities.remove(device)
    await session.delete(device)
    await session.flush()


async def update(
    session: AsyncSession, device_id: str, data: DeviceUpdate, *, offline_after: int
) -> dict[str, Any]:
    """The fields the body gives, changed; the device as it now stands."""
    device = await _device(session, device_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("user_id") is not None and await session.get(User, changes["user_id"]) is None:
        raise Unprocessable(f"No user {changes['user_id']}", loc=("body", "user_id"))
    for name, value in changes.items():
        setattr(device, name, value)
    await session.flush()
    return _answer({column.key: getattr(device, column.key) for column in _COLUMNS}, offline_after)


def _status_filter(statement: Select[Any], status: OnlineStatus | None, offline_after: int) -> Select[Any]:
    if status is None:
        return statement
    now = utcnow()
    if status is OnlineStatus.online:
        cutoff = now - timedelta(seconds=offline_after)
        return statement.where(and_(Device.last_heartbeat >= cutoff, Device.offline_at.is_(None)))
    return statement.where(offline_condition(now, offline_after))


async def list_devices(
    db: Executor,
    page: PageRequest,
    *,
    status: OnlineStatus | None,
    offline_after: int,
    only: str | None = None,
    owner: int | None = None,
    device_type: str | None = None,
    channel: str | None = None,
    search: str | None = None,
) -> Any:
    """`search`: a case-insensitive part of the device id, name or MAC address."""
    statement = _visible(select(*_COLUMNS).order_by(Device.id), owner)
    if only is not None:
        statement = statement.where(Device.device_id == only)
    if device_type is not None:
        statement = statement.where(Device.device_type == device_type)
    if channel is not None:
        statement = statement.where(Device.channel == channel)
    if search:
        statement = statement.where(
            or_(
                Device.device_id.icontains(search, autoescape=True),
                Device.device_name.icontains(search, autoescape=True),
                Device.mac_address.icontains(search, autoescape=True),
            )
        )
    rows, total = await fetch_page(db, _status_filter(statement, status, offline_after), page)
    return page_of([_answer(row, offline_after) for row in rows], total, page)


async def detail(db: Executor, device_id: str, *, offline_after: int, owner: int | None) -> dict[str, Any]:
    row = (await db.execute(_visible(select(*_COLUMNS).where(Device.device_id == device_id), owner))).first()
    if row is None:
        raise NotFound(f"No device {device_id!r}")
    latest = (
        (
            await db.execute(
                select(Heartbeat.__table__)
                .where(Heartbeat.device_id == device_id)
                .order_by(Heartbeat.received_at.desc(), Heartbeat.id.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    status = (
        await db.execute(
            select(DeviceStatus.occurred_at, DeviceStatus.modules, DeviceStatus.performance)
            .where(DeviceStatus.device_id == device_id)
            .order_by(DeviceStatus.received_at.desc(), DeviceStatus.id.desc())
            .limit(1)
        )
    ).first()
    return {
        **_answer(row, offline_after),
        "latest_heartbeat": latest,
        "latest_status": dict(status._mapping) if status else None,
    }


async def require_device(db: Executor, device_id: str, owner: int | None = None) -> None:
    """404 unless the device exists and, with an `owner`, is bound to that user."""
    statement = _visible(select(Device.id).where(Device.device_id == device_id), owner)
    if (await db.execute(statement)).first() is None:
        raise NotFound(f"No device {device_id!r}")


async def require_devices(db: Executor, device_ids: list[str], owner: int | None) -> None:
    """404 naming the devices that do not exist or, with an `owner`, are not bound to that user."""
    wanted = list(dict.fromkeys(device_ids))
    statement = _visible(select(Device.device_id).where(Device.device_id.in_(wanted)), owner)
    found = set((await db.execute(statement)).scalars())
    missing = [device_id for device_id in wanted if device_id not in found]
    if missing:
        raise NotFound(f"No device {', '.join(repr(d) for d in missing[:10])}")


async def existing(db: Executor, device_ids: list[str]) -> set[str]:
    rows = await db.execute(select(Device.device_id).where(Device.device_id.in_(set(device_ids))))
    return set(rows.scalars())


async def heartbeats(db: Executor, device_id: str, since: datetime | None, limit: int) -> list[Any]:
    statement = select(Heartbeat.__table__).where(Heartbeat.device_id == device_id)
    if since is not None:
        statement = statement.where(Heartbeat.received_at >= since)
    statement = statement.order_by(Heartbeat.received_at.desc(), Heartbeat.id.desc()).limit(limit)
    return list((await db.execute(statement)).mappings())


async def daily(db: Executor, device_id: str, start: date | None, end: date | None, limit: int) -> list[Any]:
    """The device's daily heartbeat rollups, newest day first."""
    statement = select(HeartbeatDaily.__table__).where(HeartbeatDaily.device_id == device_id)
    if start is not None:
        statement = statement.where(HeartbeatDaily.day >= start)
    if end is not None:
        statement = statement.where(HeartbeatDaily.day <= end)
    return list((await db.execute(statement.order_by(HeartbeatDaily.day.desc()).limit(limit))).mappings())
