from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse

from keel.apps.badge.deps import Admin, DeviceCaller, Push, Reader, Viewer
from keel.apps.badge.schemas import (
    RollbackOut,
    Rollout,
    RolloutOut,
    RolloutStatus,
    Semver,
    UpdateCheck,
    UpdateReportIn,
    UpdateReportOut,
    VersionOut,
    VersionStatistics,
    VersionType,
)
from keel.apps.badge.services import versions
from keel.apps.badge.services.versions import NewVersion
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, error_responses
from keel.core.http import FORM_OVERHEAD, body_limit
from keel.core.params import IntId
from keel.core.storage import Storage

router = APIRouter(prefix="/api/v1/versions", tags=["versions"], route_class=TransactionalRoute)


def download_url(request: Request, version_id: int) -> str:
    """Absolute, wherever the app is mounted (KEEL_PUBLIC_BASE_URL when set)."""
    path = str(request.app.url_path_for("download", version_id=str(version_id)))
    root_path = request.scope.get("root_path", "")
    base = request.app.state.settings.public_base_url
    if base:
        server_root = request.scope.get("app_root_path", root_path)
        return base.rstrip("/") + root_path.removeprefix(server_root) + path
    return str(request.base_url.replace(path=root_path + path))


def _update_message(request: Request, version: Any, *, force: bool | None = None) -> dict[str, Any]:
    """The `update` payload (spec 004)."""
    return {
        "version": version.version_number,
        "download_url": download_url(request, version.id),
        "checksum": f"sha256:{version.checksum}",
        "file_size": version.file_size,
        "force_update": version.is_force_update if force is None else force,
    }


@router.get("", response_model=list[VersionOut], responses=error_responses(Unauthorized))
async def list_versions(_reader: Reader, db: ReadDb, type: VersionType | None = None) -> list[Any]:
    """Newest first (by semantic version)."""
    return await versions.list_versions(db, type)


@router.get("/check", response_model=UpdateCheck, responses=error_responses(Unauthorized))
async def check(
    request: Request,
    principal: Reader,
    db: ReadDb,
    current_version: Annotated[str, Query(max_length=32, description="1.2.3 or v1.2.3")],
    type: VersionType = VersionType.stable,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Whether a newer version is offered. A device gets what its rollout cohort gets; anyone
    else gets fully rolled-out versions, or a given device's view with `device_id` (for a
    `user`, one of their badges)."""
    if device_id is not None and principal.owner is not None:
        await principal.see_device(db, device_id)
    target = principal.device_id if principal.is_device else device_id
    answer, latest = await versions.check(db, current_version, type, target)
    if latest is not None:
        answer["update_info"] = versions.update_info(latest, download_url(request, latest.id))
    return answer


@router.get(
    "/statistics", response_model=list[VersionStatistics], responses=error_responses(Unauthorized, Forbidden)
)
async def statistics(_viewer: Viewer, db: ReadDb) -> list[dict[str, Any]]:
    """Per version: update reports, successes, failures and the success rate."""
    return await versions.statistics(db)


@router.post(
    "",
    status_code=201,
    response_model=VersionOut,
    responses=error_responses(Unauthorized, Forbidden, Conflict, PayloadTooLarge),
)
@body_limit(versions.FIRMWARE_LIMIT + FORM_OVERHEAD)
async def publish(
    request: Request,
    _admin: Admin,
    session: DbSession,
    storage: Storage,
    push: Push,
    file: UploadFile,
    version_number: Annotated[Semver, Form()],
    version_type: Annotated[VersionType, Form()] = VersionType.stable,
    release_notes: Annotated[str | None, Form(max_length=10_000)] = None,
    is_force_update: Annotated[bool, Form()] = False,
    min_compatible_version: Annotated[Semver | None, Form()] = None,
    rollout_percentage: Annotated[int, Form(ge=0, le=100)] = 100,
) -> Any:
    """Multipart: the firmware as `file` and the version's fields; the server computes its
    SHA-256 and size. The devices the rollout reaches get `update` over MQTT."""
    data = NewVersion(
        version_number,
        version_type,
        release_notes,
        is_force_update,
        min_compatible_version,
        rollout_percentage,
    )
    version = await versions.publish(session, storage, file, data)
    version.download_url = download_url(request, version.id)
    await session.flush()
    if push.enabled:
        for device_id in await versions.devices_reached(session, version):
            push.send(device_id, "update", _update_message(request, version))
    return version


@router.get("/{version_id}", response_model=VersionOut, responses=error_responses(Unauthorized, NotFound))
async def get_version(version_id: IntId, _reader: Reader, db: ReadDb) -> dict[str, Any]:
    return await versions.get(db, version_id)


@router.get(
    "/{version_id}/download",
    name="download",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}} | error_responses(Unauthorized, NotFound),
)
async def download(version_id: IntId, _reader: Reader, db: ReadDb, storage: Storage) -> FileResponse:
    """The firmware file; `X-Checksum` (sha256:...) and `Content-Length` say what to expect."""
    version = await versions.get(db, version_id)
    found = await storage.find(version["file_key"]) if version["file_key"] else None
    if found is None:
        raise NotFound(f"Version {version_id} has no file")
    path, stat = found
    headers = {"X-Checksum": f"sha256:{version['checksum']}", "X-Version": version["version_number"]}
    filename = f"firmware-{version['version_number']}.bin"
    return FileResponse(
        path, media_type="application/octet-stream", headers=headers, stat_result=stat, filename=filename
    )


@router.post(
    "/{version_id}/rollout",
    response_model=RolloutOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def rollout(
    version_id: IntId, data: Rollout, request: Request, _admin: Admin, session: DbSession, push: Push
) -> dict[str, Any]:
    """Set the share of devices (0-100) that get this version; devices are picked by a hash
    of their id, so the same ones stay in as it grows. Newly reached devices get `update`."""
    version = await versions.load(session, version_id)
    before = version.rollout_percentage if version.rollout_status == RolloutStatus.active else 0
    version.rollout_percentage = data.percentage
    version.rollout_status = RolloutStatus.active
    version.is_active = True
    await session.flush()
    reached = await versions.devices_reached(session, version, previously=before)
    for device_id in reached if push.enabled else ():
        push.send(device_id, "update", _update_message(request, version))
    return {**versions.row(version), "notified_devices": len(reached) if push.enabled else 0}


async def _set_status(session: DbSession, version_id: int, status: RolloutStatus) -> dict[str, Any]:
    version = await versions.load(session, version_id)
    if version.rollout_status == RolloutStatus.rolled_back:
        raise Conflict(f"Version {version.version_number} was rolled back; start a new rollout instead")
    version.rollout_status = status
    await session.flush()
    return versions.row(version)


@router.post(
    "/{version_id}/pause",
    response_model=VersionOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def pause(version_id: IntId, _admin: Admin, session: DbSession) -> dict[str, Any]:
    """No device is offered this version until it is resumed."""
    return await _set_status(session, version_id, RolloutStatus.paused)


@router.post(
    "/{version_id}/resume",
    response_model=VersionOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def resume(version_id: IntId, _admin: Admin, session: DbSession) -> dict[str, Any]:
    return await _set_status(session, version_id, RolloutStatus.active)


@router.post(
    "/{version_id}/rollback",
    response_model=RollbackOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def rollback(
    version_id: IntId, request: Request, _admin: Admin, session: DbSession, push: Push
) -> dict[str, Any]:
    """Withdraw this version and send the devices running it the previous stable version,
    forced; 409 when there is no older stable version."""
    version = await versions.load(session, version_id)
    target = await versions.previous_stable(session, version)
    version.rollout_status = RolloutStatus.rolled_back
    version.is_active = False
    await session.flush()
    running = await versions.devices_reached(session, version, running=version.version_number)
    for device_id in running if push.enabled else ():
        push.send(device_id, "update", _update_message(request, target, force=True))
    return {
        "rolled_back": versions.row(version),
        "target": versions.row(target),
        "notified_devices": len(running) if push.enabled else 0,
    }


@router.post(
    "/{version_id}/report",
    status_code=201,
    response_model=UpdateReportOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def report(version_id: IntId, data: UpdateReportIn, principal: DeviceCaller, session: DbSession) -> Any:
    """A device tells how installing this version went; on success its software version is it."""
    assert principal.device_id is not None
    return await versions.report(session, version_id, principal.device_id, data)
