"""Rollouts that reach badges in waves and stop themselves (issue 17 item 5).

A rollout records a deployment row (`queued`) for every badge it reaches, and each badge
reports its progress on it (`downloading`, `installing`, `success`, `failed`, `rolled_back`).
Each time the rollout reaches more badges is a round: the round's deployments are the badges
its `update` push goes to, read back in pages after the commit, so no push ever holds the
fleet in memory.

Past `failure_threshold_percent` of failed outcomes the rollout pauses itself (a conditional
UPDATE from `active`, so of the reports and sweeps that see it at once exactly one stops it and
pushes the rollback), or with `auto_rollback` it is rolled back: the previous stable version is
pushed, forced, to the badges that took this one, and the update check offers it to any badge
that still runs it. The `rollouts` sweep (once per deployment, core/sweeps.py) checks the
threshold too, for failures no report saw past it, and starts each next wave when the current
one has soaked long enough.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.badge.models import Deployment, Device, UpdateReport, Version
from keel.apps.badge.schemas import DeploymentState, RolloutStatus, VersionType
from keel.apps.badge.schemas.versions import Rollout, UpdateReportIn
from keel.apps.badge.services import semver, versions
from keel.core.db import Database, Executor, utcnow
from keel.core.errors import Conflict, NotFound
from keel.core.pagination import PageRequest, fetch_page, page_of
from keel.core.sql import insert_skipping_duplicates

# Badges read per statement when a rollout reaches more of them or a push goes out.
PAGE = 1000
# The states a report ends in; the failed share is (failed + rolled_back) / these.
OUTCOMES = (DeploymentState.success, DeploymentState.failed, DeploymentState.rolled_back)
# A badge in these states took (or is taking) the version: a rollback is pushed to it.
TOOK = (DeploymentState.downloading, DeploymentState.installing, DeploymentState.success)
# Which channels see a version of each type (versions.CHANNELS, read the other way).
AUDIENCE = {
    kind: tuple(channel for channel, seen in versions.CHANNELS.items() if kind in seen)
    for kind in VersionType
}

Publish = Callable[[str, str, dict[str, Any]], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One `update` payload for many badges, whose ids are read in pages when it is sent."""

    payload: dict[str, Any]
    pages: Callable[[Executor], AsyncIterator[list[str]]]


async def deliver(db: Executor, publish: Publish, delivery: Delivery) -> int:
    sent = 0
    async for page in delivery.pages(db):
        for device_id in page:
            sent += bool(await publish(device_id, "update", delivery.payload))
    return sent


async def audience(db: Executor, delivery: Delivery) -> int:
    """How many badges the delivery goes to, counted page by page."""
    return sum([len(page) async for page in delivery.pages(db)])


def update_message(version: Any, download_url: str, *, force: bool | None = None) -> dict[str, Any]:
    """The `update` payload (spec 004)."""
    return {
        "version": version.version_number,
        "download_url": download_url,
        "checksum": f"sha256:{version.checksum}",
        "file_size": version.file_size,
        "force_update": version.is_force_update if force is None else force,
    }


def configure(version: Version, data: Rollout, now: datetime) -> None:
    """A new rollout of the version: its stages (the waves, then the target), at the first."""
    stages = [wave.model_dump() for wave in data.waves or ()]
    stages.append({"percentage": data.percentage, "soak_minutes": 0})
    version.rollout_waves = stages if data.waves else None
    version.rollout_wave = 0
    version.wave_started_at = now
    version.rollout_percentage = stages[0]["percentage"]
    version.failure_threshold_percent = data.failure_threshold_percent
    version.failure_min_reports = data.failure_min_reports
    version.auto_rollback = data.auto_rollback
    version.rollout_status = RolloutStatus.active
    version.is_active = True
    version.paused_reason = None
    version.rollback_version_id = None


async def reach(session: AsyncSession, version: Version) -> int:
    """A round: a queued deployment for every badge the rollout now reaches (its channel sees the
    version's type, its bucket is below the percentage, it runs an older version) that has none
    yet. Answers how many; they are the round's push (`round_delivery`)."""
    version.rollout_round += 1
    await session.flush()
    target = semver.parse(version.version_number)
    table = Deployment.__table__
    now, after = utcnow(), 0
    while True:
        rows = (
            await session.execute(
                select(Device.id, Device.device_id, Device.software_version)
                .where(Device.id > after, Device.channel.in_(AUDIENCE[VersionType(version.version_type)]))
                .order_by(Device.id)
                .limit(PAGE)
            )
        ).all()
        if not rows:
            break
        after = rows[-1].id
        fresh = [
            {
                "version_id": version.id,
                "device_id": row.device_id,
                "state": DeploymentState.queued.value,
                "round": version.rollout_round,
                "from_version": row.software_version,
                "error": None,
                "created_at": now,
                "updated_at": now,
            }
            for row in rows
            if versions.reaches(version, row.device_id) and not _runs_at_least(row.software_version, target)
        ]
        if fresh:
            await session.execute(
                insert_skipping_duplicates(session, table, ["version_id", "device_id"]), fresh
            )
    counted = select(func.count()).where(
        Deployment.version_id == version.id, Deployment.round == version.rollout_round
    )
    return (await session.execute(counted)).scalar_one()


def _runs_at_least(software: str | None, target: tuple[int, int, int]) -> bool:
    return bool(software) and semver.is_version(software) and semver.parse(software) >= target


def round_delivery(version: Version, payload: dict[str, Any]) -> Delivery:
    version_id, round_ = version.id, version.rollout_round

    async def pages(db: Executor) -> AsyncIterator[list[str]]:
        after = 0
        while True:
            rows = (
                await db.execute(
                    select(Deployment.id, Deployment.device_id)
                    .where(
                        Deployment.version_id == version_id, Deployment.round == round_, Deployment.id > after
                    )
                    .order_by(Deployment.id)
                    .limit(PAGE)
                )
            ).all()
            if not rows:
                return
            after = rows[-1].id
            yield [row.device_id for row in rows]

    return Delivery(payload, pages)


def rollback_delivery(version: Version, payload: dict[str, Any]) -> Delivery:
    """The badges that took the version (a deployment downloading, installing or done) or run
    it (their software version), read in pages of the device table."""
    version_id, running = version.id, semver.parse(version.version_number)
    took = Deployment.state.in_([state.value for state in TOOK])

    async def pages(db: Executor) -> AsyncIterator[list[str]]:
        after = 0
        while True:
            rows = (
                await db.execute(
                    select(Device.id, Device.device_id, Device.software_version, took.label("took"))
                    .outerjoin(
                        Deployment,
                        and_(Deployment.device_id == Device.device_id, Deployment.version_id == version_id),
                    )
                    .where(Device.id > after)
                    .order_by(Device.id)
                    .limit(PAGE)
                )
            ).all()
            if not rows:
                return
            after = rows[-1].id
            yield [
                row.device_id
                for row in rows
                if row.took
                or (
                    row.software_version
                    and semver.is_version(row.software_version)
                    and semver.parse(row.software_version) == running
                )
            ]

    return Delivery(payload, pages)


async def roll_back(session: AsyncSession, version: Version, *, reason: str | None = None) -> Version:
    """Withdraw the version for the previous stable one (409 when there is none), which the
    check then offers to badges still running it."""
    target = await versions.previous_stable(session, version)
    version.rollout_status = RolloutStatus.rolled_back
    version.is_active = False
    version.rollback_version_id = target.id
    version.paused_reason = reason
    await session.flush()
    return target


async def counts(db: Executor, version_id: int) -> dict[str, int]:
    rows = await db.execute(
        select(Deployment.state, func.count())
        .where(Deployment.version_id == version_id)
        .group_by(Deployment.state)
    )
    found = {state: count for state, count in rows.all()}
    return {state.value: int(found.get(state.value, 0)) for state in DeploymentState}


def failed_percent(counted: dict[str, int]) -> float | None:
    outcomes = sum(counted[state] for state in OUTCOMES)
    if not outcomes:
        return None
    failed = counted[DeploymentState.failed] + counted[DeploymentState.rolled_back]
    return round(100 * failed / outcomes, 2)


@dataclass(frozen=True, slots=True)
class Stopped:
    version: Version
    reason: str
    # The version pushed to the badges that took this one (auto_rollback), else None.
    target: Version | None


async def evaluate(session: AsyncSession, version: Version) -> Stopped | None:
    """Stop the rollout when its failed share passed the threshold; None when it goes on (or
    someone else stopped it first)."""
    if version.failure_threshold_percent is None or version.rollout_status != RolloutStatus.active:
        return None
    counted = await counts(session, version.id)
    share = failed_percent(counted)
    outcomes = sum(counted[state] for state in OUTCOMES)
    if share is None or outcomes < version.failure_min_reports or share <= version.failure_threshold_percent:
        return None
    reason = (
        f"{share:g}% of {outcomes} reported outcomes failed, past the threshold of "
        f"{version.failure_threshold_percent}%"
    )
    stopped = await session.execute(
        update(Version)
        .where(Version.id == version.id, Version.rollout_status == RolloutStatus.active)
        .values(rollout_status=RolloutStatus.paused, paused_reason=reason)
    )
    if stopped.rowcount != 1:
        return None
    if not version.auto_rollback:
        return Stopped(version, reason, None)
    try:
        return Stopped(version, reason, await roll_back(session, version, reason=reason))
    except Conflict:
        version.paused_reason = f"{reason}; no older stable version to roll back to"
        await session.flush()
        return Stopped(version, version.paused_reason, None)


async def advance(session: AsyncSession, version: Version, now: datetime) -> bool:
    """Start the next wave once the current one has soaked and, under a threshold, has at least
    `failure_min_reports` outcomes (a wave nobody reported on has proved nothing)."""
    stages = version.rollout_waves
    wave = version.rollout_wave
    if version.rollout_status != RolloutStatus.active or not stages or wave >= len(stages) - 1:
        return False
    started = version.wave_started_at or now
    if now < started + timedelta(minutes=stages[wave]["soak_minutes"]):
        return False
    if version.failure_threshold_percent is not None:
        counted = await counts(session, version.id)
        if sum(counted[state] for state in OUTCOMES) < version.failure_min_reports:
            return False
    moved = await session.execute(
        update(Version)
        .where(
            Version.id == version.id,
            Version.rollout_wave == wave,
            Version.rollout_status == RolloutStatus.active,
        )
        .values(rollout_wave=wave + 1, rollout_percentage=stages[wave + 1]["percentage"], wave_started_at=now)
    )
    if moved.rowcount != 1:
        return False
    await reach(session, version)
    return True


async def sweep(database: Database, publish: Callable[[], Any]) -> None:
    """Each running rollout with a threshold or waves: stopped, or moved to its next wave. Each
    version in its own transaction; the pushes go once it committed, on `publish()`'s
    connection (an async context manager giving a Publish), opened only when there is one."""
    async with database.sessionmaker() as session:
        ids = (
            (
                await session.execute(
                    select(Version.id).where(
                        Version.rollout_status == RolloutStatus.active,
                        (Version.failure_threshold_percent.is_not(None))
                        | (Version.rollout_waves.is_not(None)),
                    )
                )
            )
            .scalars()
            .all()
        )
    deliveries: list[Delivery] = []
    for version_id in ids:
        async with database.sessionmaker() as session:
            version = await session.get(Version, version_id)
            if version is None:
                continue
            stopped = await evaluate(session, version)
            if stopped is not None and stopped.target is not None:
                target = stopped.target
                deliveries.append(
                    rollback_delivery(version, update_message(target, target.download_url or "", force=True))
                )
            elif stopped is None and await advance(session, version, utcnow()):
                deliveries.append(
                    round_delivery(version, update_message(version, version.download_url or ""))
                )
            await session.commit()
    if deliveries:
        async with publish() as send:
            for delivery in deliveries:
                await deliver(database.autocommit, send, delivery)


async def record(
    session: AsyncSession, version_id: int, device_id: str, data: UpdateReportIn
) -> tuple[UpdateReport, Stopped | None]:
    """A badge's report: kept in the history, its deployment's state, and the threshold checked."""
    row = await versions.report(session, version_id, device_id, data)
    version = await session.get(Version, version_id)
    assert version is not None  # the report found it
    await _set_state(session, version, device_id, data)
    return row, await evaluate(session, version)


async def _set_state(session: AsyncSession, version: Version, device_id: str, data: UpdateReportIn) -> None:
    """The badge's deployment takes the reported state (created, round 0, when no round reached
    it: a badge that found the version by its check). Insert-or-skip, then update: two reports
    at once cannot both insert."""
    now = utcnow()
    table = Deployment.__table__
    await session.execute(
        insert_skipping_duplicates(session, table, ["version_id", "device_id"]),
        [
            {
                "version_id": version.id,
                "device_id": device_id,
                "state": data.status,
                "round": 0,
                "from_version": data.from_version,
                "error": data.error,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    values: dict[str, Any] = {"state": data.status, "error": data.error, "updated_at": now}
    if data.from_version is not None:
        values["from_version"] = data.from_version
    await session.execute(
        update(Deployment)
        .where(Deployment.version_id == version.id, Deployment.device_id == device_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if data.status == DeploymentState.rolled_back:
        # Back on what it ran before, when that is known.
        before = select(Deployment.from_version).where(
            Deployment.version_id == version.id, Deployment.device_id == device_id
        )
        previous = (await session.execute(before)).scalar_one()
        if previous is not None:
            await session.execute(
                update(Device)
                .where(Device.device_id == device_id)
                .values(software_version=previous)
                .execution_options(synchronize_session=False)
            )


async def deployments(
    db: Executor, version_id: int, state: DeploymentState | None, page: PageRequest
) -> dict[str, Any]:
    if (await db.execute(select(Version.id).where(Version.id == version_id))).first() is None:
        raise NotFound(f"No version {version_id}")
    counted = await counts(db, version_id)
    statement = select(Deployment.__table__).where(Deployment.version_id == version_id)
    if state is not None:
        statement = statement.where(Deployment.state == state.value)
    total = counted[state.value] if state is not None else sum(counted.values())
    rows, total = await fetch_page(db, statement.order_by(Deployment.id), page, total=total)
    return {
        "version_id": version_id,
        "counts": counted,
        "failed_percent": failed_percent(counted),
        **page_of([dict(row._mapping) for row in rows], total, page).model_dump(),
    }
