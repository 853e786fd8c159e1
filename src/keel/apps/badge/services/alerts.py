"""Alert rules and the alerts they raise: N critical logs of one device within T minutes
(checked as logs arrive), and a device gone silent past its window (checked by a sweep)."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from keel.apps.badge.models import Alert, AlertRule, Device, ErrorLog
from keel.apps.badge.schemas import AlertKind, AlertRuleCreate
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


async def _open_alert(connection: AsyncConnection | AsyncSession, rule_id: int, device_id: str) -> bool:
    """An unacknowledged alert of this rule for this device already stands: no second one."""
    found = await connection.execute(
        select(Alert.id).where(
            Alert.rule_id == rule_id, Alert.device_id == device_id, Alert.acknowledged_at.is_(None)
        )
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


async def sweep_offline(session: AsyncSession) -> int:
    """Raise an alert for each device silent longer than an offline rule's window."""
    now = utcnow()
    rules = (
        await session.execute(
            select(AlertRule.id, AlertRule.window_minutes, AlertRule.device_id).where(
                AlertRule.kind == AlertKind.device_offline.value, AlertRule.is_active.is_(True)
            )
        )
    ).all()
    raised = 0
    for rule in rules:
        cutoff = now - timedelta(minutes=rule.window_minutes)
        # Devices never heard from are not "gone offline": they never came online.
        silent = select(Device.device_id, Device.last_heartbeat).where(Device.last_heartbeat < cutoff)
        if rule.device_id is not None:
            silent = silent.where(Device.device_id == rule.device_id)
        for device_id, last_heartbeat in (await session.execute(silent)).all():
            if not await _open_alert(session, rule.id, device_id):
                message = f"offline since {last_heartbeat.isoformat()}"
                session.add(Alert(rule_id=rule.id, device_id=device_id, message=message, created_at=now))
                raised += 1
    await session.flush()
    return raised


async def list_alerts(
    db: Executor, page: PageRequest, *, acknowledged: bool | None, device_id: str | None
) -> Any:
    statement = select(Alert.__table__).order_by(Alert.id.desc())
    if acknowledged is not None:
        column = Alert.acknowledged_at
        statement = statement.where(column.is_not(None) if acknowledged else column.is_(None))
    if device_id is not None:
        statement = statement.where(Alert.device_id == device_id)
    rows, total = await fetch_page(db, statement, page)
    return page_of([dict(row._mapping) for row in rows], total, page)


async def acknowledge(session: AsyncSession, alert_id: int, user_id: int | None) -> Alert:
    alert = await session.get(Alert, alert_id)
    if alert is None:
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
