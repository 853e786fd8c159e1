from typing import Annotated, Any

from fastapi import APIRouter, Query

from keel.apps.fitness import device_schemas
from keel.apps.fitness.deps import AdminUser
from keel.apps.fitness.schemas import AppVersionOut, AppVersionSet, Platform
from keel.apps.fitness.services import app_versions
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Forbidden, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/meta", tags=["meta"], route_class=TransactionalRoute)


@router.get("/schemas")
async def schemas() -> dict[str, Any]:
    """`schemas`: per device type that has one (`device_types`), the fields of `metrics_summary`
    and of time-series points: key, type, unit, zh and en labels, range; `generic`: what is
    checked for any other device type (its sessions are stored and counted all the same; an
    admin shows their other keys raw). `version` changes exactly when the definitions do, so a
    client may cache the answer. Uploads are checked against these same definitions."""
    return device_schemas.describe()


@router.get("/app_version", response_model=AppVersionOut, responses=error_responses(NotFound))
async def app_version(
    db: ReadDb,
    platform: Platform,
    version: Annotated[str | None, Query(max_length=32, description="The app's own version, x.y.z")] = None,
) -> dict[str, Any]:
    """Latest and minimum supported versions; `force_update` when `version` is below the minimum."""
    return await app_versions.check(db, platform, version)


@router.put(
    "/app_version/{platform}",
    response_model=AppVersionOut,
    responses=error_responses(Unauthorized, Forbidden),
)
async def publish_app_version(
    platform: Platform, data: AppVersionSet, _admin: AdminUser, session: DbSession
) -> dict[str, Any]:
    return await app_versions.publish(session, platform, data)
