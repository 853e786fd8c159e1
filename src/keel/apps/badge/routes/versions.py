from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse

from keel.apps.badge.deps import Admin, DeviceCaller, Push, Reader, Viewer
from keel.apps.badge.schemas import DeploymentState, RolloutStatus, Semver, VersionType
from keel.apps.badge.schemas.versions import (
    DeploymentPage,
    RollbackOut,
    Rollout,
    RolloutOut,
    UpdateCheck,
    UpdateReportIn,
    UpdateReportOut,
    VersionOut,
    VersionStatistics,
)
from keel.apps.badge.services import rollouts, versions
from keel.apps.badge.services.versions import NewVersion
from keel.core.db import DbSession, ReadDb, TransactionalRoute, request_database, utcnow
from keel.core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, error_responses
from keel.core.http import FORM_OVERHEAD, body_limit
from keel.core.pagination import PageParams
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
    return rollouts.update_message(version, download_url(request, version.id), force=force)


def _deliver(request: Request, push: Push, delivery: rollouts.Delivery) -> None:
    """After the commit, in the background: the badges are read in pages as they are sent to."""
    push.detach(partial(rollouts.deliver, request_database(request).autocommit, push.publish, delivery))


async def _roll_back_pushed(
    request: Request, session: DbSession, push: Push, version: Any, target: Any
) -> int:
    """The previous stable version, forced, to the badges that took this one; how many."""
    if not push.enabled:
        return 0
    delivery = rollouts.rollback_delivery(version, _update_message(request, target, force=True))
    _deliver(request, push, delivery)
    return await rollouts.audience(session, delivery)


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
    type: Annotated[
        VersionType | None,
        Query(description="The channel; a device's own channel decides, this can only narrow it"),
    ] = None,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Whether a newer version is offered. A device gets what its channel and rollout cohort
    get; anyone else gets fully rolled-out versions of `type` (stable by default), or a given
    device's view with `device_id` (for a `user`, one of their badges). A rolled-back
    `current_version` is offered the version its rollback sent badges to, forced."""
    if device_id is not None and principal.owner is not None:
        await principal.see_device(db, device_id)
    target = principal.device_id if principal.is_device else device_id
    channel = type or VersionType.stable
    if target is not None:
        channel = await versions.channel_of(db, target, type)
    answer, latest = await versions.check(db, current_version, channel, target)
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
    version.wave_started_at = version.released_at
    await session.flush()
    await rollouts.reach(session, version)
    if push.enabled:
        _deliver(request, push, rollouts.round_delivery(version, _update_message(request, version)))
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
# HEAD too: firmware asks for the size and checksum before it downloads (signed like a GET, and
# repeatable like one); FileResponse answers it with the headers alone.
@router.head("/{version_id}/download", response_class=FileResponse, include_in_schema=False)
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
    """Start a rollout of this version: at `percentage`, or in `waves` up to it, each started
    by the `rollouts` sweep once the one before has soaked. Devices are picked by a hash of
    their id (the same ones stay in as it grows) among the channels that see the version's
    type. Each badge reached gets a `queued` deployment and `update` after the commit; a
    `failure_threshold_percent` stops the rollout by itself (`auto_rollback`: rolls it back)."""
    version = await versions.load(session, version_id)
    rollouts.configure(version, data, utcnow())
    await session.flush()
    reached = await rollouts.reach(session, version)
    if push.enabled:
        _deliver(request, push, rollouts.round_delivery(version, _update_message(request, version)))
    return {**versions.row(version), "notified_devices": reached if push.enabled else 0}


@router.get(
    "/{version_id}/deployments",
    response_model=DeploymentPage,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def deployments(
    version_id: IntId, _viewer: Viewer, db: ReadDb, page: PageParams, state: DeploymentState | None = None
) -> dict[str, Any]:
    """Each badge's state with this version (as it last reported, `queued` before), counts per
    state, and the failed share of the outcomes the threshold is checked against."""
    return await rollouts.deployments(db, version_id, state, page)


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
    target = await rollouts.roll_back(session, version)
    notified = await _roll_back_pushed(request, session, push, version, target)
    return {
        "rolled_back": versions.row(version),
        "target": versions.row(target),
        "notified_devices": notified,
    }


@router.post(
    "/{version_id}/report",
    status_code=201,
    response_model=UpdateReportOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def report(
    version_id: IntId,
    data: UpdateReportIn,
    request: Request,
    principal: DeviceCaller,
    session: DbSession,
    push: Push,
) -> Any:
    """A device tells how installing this version goes: `downloading`, `installing`, then
    `success` (its software version becomes this one), `failed`, or `rolled_back` (it is back
    on what it ran before). A failure that takes the rollout past its threshold stops it."""
    assert principal.device_id is not None
    row, stopped = await rollouts.record(session, version_id, principal.device_id, data)
    if stopped is not None and stopped.target is not None:
        await _roll_back_pushed(request, session, push, stopped.version, stopped.target)
    return row
