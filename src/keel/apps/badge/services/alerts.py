"""Alert rules and the alerts they raise: N critical logs of one device within T minutes
(checked as logs arrive), and a device gone offline (checked by a sweep), by the same rule the
device list answers with (`devices.offline_condition`, one setting); an offline alert resolves
itself when the device comes back."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from keel.apps.badge.models import Alert, AlertRule, Device, ErrorLog
from keel.apps.badge.schemas import AlertKind, AlertRuleCreate
from keel.apps.badge.services.devices import offline_condition, owned_by
from keel.core.db import Executor, utcnow
from keel.core.errors import Conflict, NotFound, Unprocessable
from keel.core.pagination import PageRequest, fetch_page, page_of


async def create_rule(session: AsyncSession, data: AlertRuleCreate) -> AlertRule:
    if data.device_id is not None:
        found = await session.execute(select(Device.id).where(Device.device_id == data.device_id))
        if found.first() is None:
            raise Unprocessable(f"No device {data.device_id!r}", loc=("body", "device_id"))
    rule = AlertRule(**data.model_dump())
    session.add(rule)
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, rule_id: int) -> None:
    rule = await session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound(f"No alert rule {rule_id}")
    await session.delete(rule)
    await session.flush()


async def list_rules(db: Executor) -> list[Any]:
    return list((await db.execute(select(AlertRule.__table__).order_by(AlertRule.id))).mappings())


async def _open_alert(
    connection: AsyncConnection | AsyncSession, rule_id: int, device_id: str, *, until_resolved: bool = False
) -> bool:
    """An alert of this rule for this device already stands: no second one. A critical-logs
    alert stands until acknowledged; an offline one until the device returns (`until_resolved`),
    acknowledged or not, so a device that stays away raises it once."""
    standing = Alert.resolved_at.is_(None) if until_resolved else Alert.acknowledged_at.is_(None)
    found = await connection.execute(
        select(Alert.id).where(Alert.rule_id == rule_id, Alert.device_id == device_id, standing)
    )
    return found.first() is not None


async def on_critical_logs(connection: AsyncConnection, device_ids: set[str], now: datetime) -> int:
    rules = (
        await connection.execute(
            select(AlertRule.id, AlertRule.threshold, AlertRule.window_minutes, AlertRule.device_id).where(
                AlertRule.kind == AlertKind.critical_logs.value,
                AlertRule.is_active.is_(True),
                or_(AlertRule.device_id.is_(None), AlertRule.device_id.in_(device_ids)),
            )
        )
    ).all()
    raised = 0
    for rule in rules:
        for device_id in sorted(device_ids if rule.device_id is None else {rule.device_id}):
            count = (
                await connection.execute(
                    select(func.count()).where(
                        ErrorLog.device_id == device_id,
                        ErrorLog.error_level == "critical",
                        ErrorLog.occurred_at >= now - timedelta(minutes=rule.window_minutes),
                    )
                )
            ).scalar_one()
            if count >= rule.threshold and not await _open_alert(connection, rule.id, device_id):
                message = f"{count} critical logs within {rule.window_minutes} minutes"
                await connection.execute(
                    insert(Alert).values(
                        rule_id=rule.id, device_id=device_id, message=message, created_at=now
                    )
                )
                raised += 1
    return raised


async def sweep_offline(session: AsyncSession, offline_after: int) -> int:
    """Raise an alert for each device offline as the device list says it (silent past
    `KEEL_BADGE_OFFLINE_AFTER_SECONDS`, or its will message received)."""
    now = utcnow()
    rules = (
        await session.execute(
            select(AlertRule.id, AlertRule.device_id).where(
                AlertRule.kind == AlertKind.device_offline.value, AlertRule.is_active.is_(True)
            )
        )
    ).all()
    raised = 0
    for rule in rules:
        # Devices never heard from are not "gone offline": they never came online.
        silent = select(Device.device_id, Device.last_heartbeat, Device.offline_at).where(
            Device.last_heartbeat.is_not(None), offline_condition(now, offline_after)
        )
        if rule.device_id is not None:
            silent = silent.where(Device.device_id == rule.device_id)
        for device_id, last_heartbeat, offline_at in (await session.execute(silent)).all():
            if not await _open_alert(session, rule.id, device_id, until_resolved=True):
                message = (
                    f"disconnected at {offline_at.isoformat()} (its will message)"
                    if offline_at is not None
                    else f"offline since {last_heartbeat.isoformat()}"
                )
                session.add(Alert(rule_id=rule.id, device_id=device_id, message=message, created_at=now))
                raised += 1
    await session.flush()
    return raised


async def resolve_offline(connection: AsyncConnection, device_ids: set[str], now: datetime) -> None:
    """The devices are back: their offline alerts are resolved."""
    offline_rules = select(AlertRule.id).where(AlertRule.kind == AlertKind.device_offline.value)
    await connection.execute(
        update(Alert)
        .where(
            Alert.device_id.in_(sorted(device_ids)),
            Alert.resolved_at.is_(None),
            Alert.rule_id.in_(offline_rules),
        )
        .values(resolved_at=now)
    )


async def _owned(session: AsyncSession, device_id: str, owner: int) -> bool:
    found = await session.execute(owned_by(owner).where(Device.device_id == device_id))
    return found.first() is not None


async def list_alerts(
    db: Executor, page: PageRequest, *, acknowledged: bool | None, device_id: str | None, owner: int | None
) -> Any:
    """With an `owner`, only the alerts of that user's badges."""
    statement = select(Alert.__table__).order_by(Alert.id.desc())
    if owner is not None:
        statement = statement.where(Alert.device_id.in_(owned_by(owner)))
    if acknowledged is not None:
        column = Alert.acknowledged_at
        statement = statement.where(column.is_not(None) if acknowledged else column.is_(None))
    if device_id is not None:
        statement = statement.where(Alert.device_id == device_id)
    rows, total = await fetch_page(db, statement, page)
    return page_of([dict(row._mapping) for row in rows], total, page)


async def acknowledge(
    session: AsyncSession, alert_id: int, user_id: int | None, *, owner: int | None
) -> Alert:
    alert = await session.get(Alert, alert_id)
    hidden = alert is not None and owner is not None and not await _owned(session, alert.device_id, owner)
    if alert is None or hidden:
        raise NotFound(f"No alert {alert_id}")
    claimed = await session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=utcnow(), acknowledged_by=user_id)
    )
    if claimed.rowcount != 1:
        raise Conflict(f"Alert {alert_id} was already acknowledged")
    await session.refresh(alert)
    return alert
