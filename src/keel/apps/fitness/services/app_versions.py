"""The version gate: tell an app whether it may run, should update, or must."""

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import AppVersion
from keel.apps.fitness.schemas import AppVersionSet, Platform
from keel.core.db import Executor
from keel.core.errors import NotFound, Unprocessable

_VERSION = re.compile(r"^v?(\d{1,6})(?:\.(\d{1,6}))?(?:\.(\d{1,6}))?$")


def parse_version(text: str) -> tuple[int, int, int]:
    """`1.2.3`, `v1.2` or `1` as (major, minor, patch); missing parts count as 0."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch = (int(part or 0) for part in match.groups())
    return major, minor, patch


async def check(db: Executor, platform: Platform, current: str | None) -> dict[str, Any]:
    columns = (
        AppVersion.latest_version,
        AppVersion.min_supported_version,
        AppVersion.store_url,
        AppVersion.release_notes,
    )
    row = (await db.execute(select(*columns).where(AppVersion.platform == platform))).mappings().first()
    if row is None:
        raise NotFound(f"No version has been published for {platform.value}")
    answer = {
        "platform": platform,
        **row,
        "current_version": current,
        "update_available": False,
        "force_update": False,
    }
    if current is not None:
        try:
            mine = parse_version(current)
        except ValueError as error:
            raise Unprocessable(str(error), loc=("query", "version")) from None
        answer["update_available"] = mine < parse_version(row["latest_version"])
        answer["force_update"] = mine < parse_version(row["min_supported_version"])
    return answer


async def publish(session: AsyncSession, platform: Platform, data: AppVersionSet) -> dict[str, Any]:
    if parse_version(data.min_supported_version) > parse_version(data.latest_version):
        raise Unprocessable(
            "min_supported_version cannot be newer than latest_version", loc=("body", "min_supported_version")
        )
    row = (await session.execute(select(AppVersion).where(AppVersion.platform == platform))).scalars().first()
    if row is None:
        row = AppVersion(platform=platform.value)
        session.add(row)
    for field, value in data.model_dump().items():
        setattr(row, field, value)
    await session.flush()
    return await check(session, platform, None)


async def published(db: Executor) -> list[dict[str, Any]]:
    """Every platform's published record, by platform; a platform never published has none."""
    columns = [column for column in AppVersion.__table__.columns if column.key != "id"]
    rows = await db.execute(select(*columns).order_by(AppVersion.platform))
    return [dict(row) for row in rows.mappings()]
