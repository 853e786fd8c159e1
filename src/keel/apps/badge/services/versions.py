"""Firmware versions (spec 004, "OTA 更新逻辑"): publishing with the file's checksum and size
computed here, the update check with semantic versions, staged rollouts that pick devices
deterministically by id, pause and resume, rollback to the previous stable, and the results
devices report."""

import hashlib
from dataclasses import dataclass
from typing import Any

from fastapi import UploadFile
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.badge.models import Device, UpdateReport, Version
from keel.apps.badge.schemas import RolloutStatus, VersionType
from keel.apps.badge.schemas.versions import UpdateReportIn
from keel.apps.badge.services import semver
from keel.core.db import Executor, utcnow
from keel.core.errors import Conflict, NotFound, Unprocessable
from keel.core.storage import LocalStorage, iter_upload

FIRMWARE_LIMIT = 512 * 1024 * 1024
# A device on a channel gets that channel's versions and the steadier ones.
CHANNELS = {
    VersionType.stable: ("stable",),
    VersionType.beta: ("stable", "beta"),
    VersionType.alpha: ("stable", "beta", "alpha"),
}


def bucket(version_number: str, device_id: str) -> int:
    """0-99, fixed per device and version: a rollout to p% reaches the devices below p, so
    raising p only adds devices, and each version starts with a different first cohort."""
    digest = hashlib.sha256(f"{semver.parse(version_number)}:{device_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


def reaches(version: Any, device_id: str) -> bool:
    return bucket(version.version_number, device_id) < version.rollout_percentage


@dataclass(frozen=True, slots=True)
class NewVersion:
    version_number: str
    version_type: VersionType
    release_notes: str | None
    is_force_update: bool
    min_compatible_version: str | None
    rollout_percentage: int


async def publish(
    session: AsyncSession, storage: LocalStorage, upload: UploadFile, data: NewVersion
) -> Version:
    for field, value in (
        ("version_number", data.version_number),
        ("min_compatible_version", data.min_compatible_version),
    ):
        if value is not None and not semver.is_version(value):
            raise Unprocessable(f"{value!r} is not a semantic version (like 1.2.3)", loc=("body", field))
    if await _by_number(session, data.version_number) is not None:
        raise Conflict(f"Version {data.version_number} already exists")
    key = await storage.save(
        iter_upload(upload, FIRMWARE_LIMIT), "application/octet-stream", limit=FIRMWARE_LIMIT
    )
    found = await storage.find(key)
    assert found is not None  # just written
    version = Version(
        version_number=data.version_number,
        version_type=data.version_type.value,
        release_notes=data.release_notes,
        is_force_update=data.is_force_update,
        min_compatible_version=data.min_compatible_version,
        rollout_percentage=data.rollout_percentage,
        file_key=key,
        file_size=found[1].st_size,
        checksum=found[0].stem,  # content-addressed: the file's name is its SHA-256
        released_at=utcnow(),
    )
    session.add(version)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"Version {data.version_number} already exists") from None
    return version


async def _by_number(db: Executor, number: str) -> Any:
    wanted = semver.parse(number)
    for row in (await db.execute(select(Version.id, Version.version_number))).all():
        if semver.parse(row.version_number) == wanted:
            return row
    return None


async def list_versions(db: Executor, version_type: VersionType | None) -> list[dict[str, Any]]:
    statement = select(Version.__table__)
    if version_type is not None:
        statement = statement.where(Version.version_type == version_type.value)
    rows = [dict(row) for row in (await db.execute(statement)).mappings()]
    return sorted(rows, key=lambda row: semver.parse(row["version_number"]), reverse=True)


async def get(db: Executor, version_id: int) -> dict[str, Any]:
    row = (await db.execute(select(Version.__table__).where(Version.id == version_id))).mappings().first()
    if row is None:
        raise NotFound(f"No version {version_id}")
    return dict(row)


async def load(session: AsyncSession, version_id: int) -> Version:
    version = await session.get(Version, version_id, with_for_update=True)
    if version is None:
        raise NotFound(f"No version {version_id}")
    return version


def update_info(version: Any, download_url: str) -> dict[str, Any]:
    return {
        "version_id": version.id,
        "version": version.version_number,
        "version_type": version.version_type,
        "release_notes": version.release_notes,
        "download_url": download_url,
        "file_size": version.file_size,
        "checksum": f"sha256:{version.checksum}" if version.checksum else None,
        "force_update": version.is_force_update,
        "min_compatible_version": version.min_compatible_version,
        "released_at": version.released_at,
    }


# Steadiest first: asking for a channel never widens what a badge's own channel gives it.
_STEADINESS = list(VersionType)


async def channel_of(db: Executor, device_id: str, asked: VersionType | None) -> VersionType:
    """The channel a device's check uses: its own, or the steadier `type` it asked for."""
    channel = (await db.execute(select(Device.channel).where(Device.device_id == device_id))).scalar()
    if channel is None:
        raise NotFound(f"No device {device_id!r}")
    own = VersionType(channel)
    if asked is None:
        return own
    return min(own, asked, key=_STEADINESS.index)


async def check(
    db: Executor, current: str, channel: VersionType, device_id: str | None
) -> tuple[dict[str, Any], Any]:
    """The newest version offered to this device (or, with no device, to everyone) above
    `current`. Forced when the version says so or when `current` is below its minimum
    compatible version. A `current` that was rolled back is offered the version the rollback
    sent its badges, forced, when nothing newer is offered (a badge offline during the
    rollback still gets it). The second value is the version row, for the download URL."""
    try:
        parsed = semver.parse(current)
    except ValueError as error:
        raise Unprocessable(str(error), loc=("query", "current_version")) from None
    candidates = (
        await db.execute(
            select(Version.__table__).where(
                Version.is_active.is_(True),
                Version.rollout_status == RolloutStatus.active,
                Version.file_key.is_not(None),
                Version.version_type.in_(CHANNELS[channel]),
            )
        )
    ).all()
    offered = [
        row
        for row in candidates
        if (reaches(row, device_id) if device_id is not None else row.rollout_percentage >= 100)
    ]
    newer = [row for row in offered if semver.parse(row.version_number) > parsed]
    withdrawn = await _rolled_back_to(db, parsed)
    if newer:
        latest = max(newer, key=lambda row: semver.parse(row.version_number))
    elif withdrawn is not None:
        latest = withdrawn
    else:
        return {"current_version": current, "has_update": False}, None
    force = (
        withdrawn is not None
        or latest.is_force_update
        or (
            latest.min_compatible_version is not None and parsed < semver.parse(latest.min_compatible_version)
        )
    )
    answer = {
        "current_version": current,
        "has_update": True,
        "latest_version": latest.version_number,
        "force_update": force,
        "min_compatible_version": latest.min_compatible_version,
    }
    return answer, latest


async def _rolled_back_to(db: Executor, running: tuple[int, int, int]) -> Any:
    """The version a rollback of `running` sent its badges to, if it can still be installed."""
    target = Version.__table__.alias("target")
    rows = (
        await db.execute(
            select(Version.version_number.label("withdrawn_number"), target)
            .join(target, target.c.id == Version.rollback_version_id)
            .where(
                Version.rollout_status == RolloutStatus.rolled_back,
                target.c.is_active.is_(True),
                target.c.file_key.is_not(None),
            )
        )
    ).all()
    for row in rows:
        if semver.parse(row.withdrawn_number) == running:
            return row
    return None


async def previous_stable(session: AsyncSession, version: Version) -> Version:
    below = semver.parse(version.version_number)
    candidates = (
        await session.execute(
            select(Version).where(
                Version.id != version.id,
                Version.version_type == "stable",
                Version.is_active.is_(True),
                Version.file_key.is_not(None),
            )
        )
    ).scalars()
    older = [row for row in candidates if semver.parse(row.version_number) < below]
    if not older:
        raise Conflict(f"No stable version older than {version.version_number} to roll back to")
    return max(older, key=lambda row: semver.parse(row.version_number))


async def report(
    session: AsyncSession, version_id: int, device_id: str, data: UpdateReportIn
) -> UpdateReport:
    version = await session.get(Version, version_id)
    if version is None:
        raise NotFound(f"No version {version_id}")
    row = UpdateReport(
        device_id=device_id,
        version_id=version_id,
        from_version=data.from_version,
        status=data.status,
        error=data.error,
        reported_at=utcnow(),
    )
    session.add(row)
    if data.status == "success":
        device = (await session.execute(select(Device).where(Device.device_id == device_id))).scalar_one()
        device.software_version = version.version_number
    await session.flush()
    return row


async def statistics(db: Executor) -> list[dict[str, Any]]:
    # Outcomes only: progress reports (downloading, installing) are in the deployments.
    success = func.sum(case((UpdateReport.status == "success", 1), else_=0))
    failed = func.sum(case((UpdateReport.status == "failed", 1), else_=0))
    statement = (
        select(Version.id, Version.version_number, success, failed)
        .outerjoin(UpdateReport, UpdateReport.version_id == Version.id)
        .group_by(Version.id, Version.version_number)
    )
    answer = []
    for version_id, number, ok, bad in (await db.execute(statement)).all():
        ok, bad = int(ok or 0), int(bad or 0)
        reports = ok + bad
        answer.append(
            {
                "version_id": version_id,
                "version_number": number,
                "reports": reports,
                "success": ok,
                "failed": bad,
                "success_rate": round(ok / reports, 4) if reports else None,
            }
        )
    return sorted(answer, key=lambda row: semver.parse(row["version_number"]), reverse=True)


def row(version: Version) -> dict[str, Any]:
    return {column.key: getattr(version, column.key) for column in Version.__table__.columns}
