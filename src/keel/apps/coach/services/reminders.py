"""Reminders: the night review and the morning plan, pushed at the user's local time.

Each enabled reminder is a durable job (core/jobs.py) due at its next local time, scheduled
when the settings are saved or a device registers. When it runs it checks the setting is still
on and still at that time (a switched-off or moved reminder's job ends; the save that moved it
scheduled the new one), then claims the day: a `reminder_sends` row unique per user, kind and
local day, inserted skipping duplicates, whose `job_id` names the one job that sends. So however
many jobs were scheduled (settings saved twice) and however many workers run them, a reminder
fires once a day; the winner alone schedules the next day's job, so the chain stays one.

Local times are turned into instants per day with the user's zone (zoneinfo), so a reminder
keeps its wall-clock time across DST changes. A time that does not exist that day (skipped by
a spring-forward) fires as the same wall time in the offset before the change, an hour later
on the clock; a time that happens twice (fall-back) fires at its first occurrence.
"""

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import PushToken, ReminderSend, User, UserSettings
from keel.apps.coach.schemas import Notifications
from keel.apps.coach.services import devices, push
from keel.apps.coach.tasks import queue
from keel.core.db import utcnow
from keel.core.jobs import JobContext
from keel.core.sql import insert_skipping_duplicates

log = logging.getLogger("keel.coach.reminders")

# Each reminder's switch and time in the notification settings.
KINDS = {"review": ("review_reminder", "review_time"), "plan": ("plan_reminder", "plan_time")}
MESSAGES = {
    "review": push.Notification(
        "Time for your night review", "Log today's records and ask the coach for your review.", {}
    ),
    "plan": push.Notification("Good morning", "Your plan and targets for today are ready.", {}),
}
# A reminder whose job runs later than this (the workers were down) is skipped, not sent late:
# a night review reminder the next morning is noise. The next day's is still scheduled.
STALE_AFTER = dt.timedelta(hours=2)


def fire_at(day: dt.date, clock: str, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of `clock` (HH:MM) on `day` where the user lives."""
    hour, minute = map(int, clock.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).astimezone(dt.UTC)


def next_occurrence(now: dt.datetime, clock: str, zone: ZoneInfo, *, after: dt.date | None = None) -> dt.date:
    """The first local day (after `after`, if given) whose `clock` is still ahead of `now`."""
    day = now.astimezone(zone).date()
    if after is not None and day <= after:
        day = after + dt.timedelta(days=1)
    while fire_at(day, clock, zone) <= now:
        day += dt.timedelta(days=1)
    return day


async def _settings_of(session: AsyncSession, user_id: int) -> tuple[Notifications, ZoneInfo] | None:
    row = (
        await session.execute(
            select(UserSettings.notifications, User.timezone)
            .join(User, User.id == UserSettings.user_id)
            .where(UserSettings.user_id == user_id)
        )
    ).first()
    if row is None:
        return None
    return Notifications.model_validate(row.notifications or {}), ZoneInfo(row.timezone)


async def _enqueue(
    session: AsyncSession,
    user_id: int,
    kind: str,
    day: dt.date,
    clock: str,
    zone: ZoneInfo,
    request: Request | None,
) -> None:
    delay = max(fire_at(day, clock, zone) - utcnow(), dt.timedelta(0))
    payload = {"user_id": user_id, "kind": kind, "day": day.isoformat(), "time": clock}
    await queue.enqueue(session, "reminder", payload, request=request, delay=delay)


async def schedule(session: AsyncSession, user_id: int, request: Request | None = None) -> None:
    """A job for the next occurrence of each enabled reminder, in the caller's transaction."""
    found = await _settings_of(session, user_id)
    if found is None:
        return
    notifications, zone = found
    now = utcnow()
    for kind, (switch, field) in KINDS.items():
        if getattr(notifications, switch):
            clock = getattr(notifications, field)
            await _enqueue(session, user_id, kind, next_occurrence(now, clock, zone), clock, zone, request)


@queue.handler("reminder")
async def fire(context: JobContext, payload: dict[str, Any]) -> None:
    user_id, kind, clock = payload["user_id"], payload["kind"], payload["time"]
    day = dt.date.fromisoformat(payload["day"])
    key = (ReminderSend.user_id == user_id, ReminderSend.kind == kind, ReminderSend.day == day)
    async with context.database.sessionmaker() as session, session.begin():
        found = await _settings_of(session, user_id)
        if found is None:
            return  # the account is gone
        notifications, zone = found
        switch, field = KINDS[kind]
        if not getattr(notifications, switch) or getattr(notifications, field) != clock:
            return  # switched off, or moved: this chain ends
        claimed = await session.execute(
            insert_skipping_duplicates(session, ReminderSend.__table__, ["user_id", "kind", "day"]).values(
                user_id=user_id, kind=kind, day=day, job_id=context.job_id, created_at=utcnow()
            )
        )
        winner = (await session.execute(select(ReminderSend.job_id, ReminderSend.sent_at).where(*key))).one()
        if winner.job_id != context.job_id or winner.sent_at is not None:
            return  # another job has this day's reminder, or this one sent it before a crash
        now = utcnow()
        if claimed.rowcount == 1:
            following = next_occurrence(now, clock, zone, after=day)
            await _enqueue(session, user_id, kind, following, clock, zone, None)
        if now - fire_at(day, clock, zone) > STALE_AFTER:
            log.info(
                "stale reminder skipped", extra={"user_id": user_id, "kind": kind, "day": day.isoformat()}
            )
            return
        targets = [
            push.Device(row.token, row.platform)
            for row in await session.execute(
                select(PushToken.token, PushToken.platform)
                .where(PushToken.user_id == user_id)
                .order_by(PushToken.id)
            )
        ]
    # Outside the transaction: no row stays locked while the push service answers.
    gone: set[str] = set()
    if targets:
        message = MESSAGES[kind]
        notification = push.Notification(message.title, message.body, {"kind": kind, "date": day.isoformat()})
        provider = await push.provider(context.settings)
        gone = await provider.send(user_id, targets, notification)
    async with context.database.sessionmaker() as session, session.begin():
        await session.execute(update(ReminderSend).where(*key).values(sent_at=utcnow()))
        await devices.forget(session, user_id, gone)
