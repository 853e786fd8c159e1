import hmac
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from keel.apps.badge.deps import (
    Admin,
    BrokerIdentities,
    DeviceCaller,
    Push,
    Reader,
    Writer,
    device_tokens,
    person,
)
from keel.apps.badge.schemas import (
    Command,
    ConfigReportedIn,
    ConfigShadow,
    DeviceDetail,
    DeviceList,
    DeviceOut,
    DeviceRegister,
    DeviceRegistered,
    DeviceUpdate,
    HeartbeatDailyOut,
    HeartbeatIn,
    HeartbeatOut,
    Ingested,
    LogIn,
    MqttCredentials,
    OnlineStatus,
    Published,
    StatusIn,
    VersionType,
)
from keel.apps.badge.schemas.configs import ConfigOut, ConfigSet
from keel.apps.badge.services import configs, devices, ingest
from keel.apps.badge.services.mqtt import topic
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    error_responses,
)
from keel.core.pagination import PageParams
from keel.core.params import UtcDatetime
from keel.core.security.auth import BearerCredentials

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], route_class=TransactionalRoute)

ProvisioningKey = Annotated[
    str | None,
    Header(
        alias="X-Provisioning-Key",
        max_length=256,
        description="Lets a device register itself, instead of an admin",
    ),
]


def _offline_after(request: Request) -> int:
    return request.app.state.settings.badge_offline_after_seconds


def _secret_key(request: Request) -> str:
    return request.app.state.settings.secret_key


async def _admin_or_provisioning_key(
    request: Request, credentials: BearerCredentials, key: ProvisioningKey
) -> None:
    expected = request.app.state.settings.badge_provisioning_key
    if key is not None:
        if expected is None or not hmac.compare_digest(key.encode(), expected.encode()):
            raise Unauthorized("Invalid provisioning key")
        return
    principal = await person(request, credentials)
    if not principal.is_admin:
        raise Forbidden("Registering a device needs an admin or the provisioning key")


@router.post(
    "/register",
    status_code=201,
    response_model=DeviceRegistered,
    responses=error_responses(Unauthorized, Forbidden, Conflict, ServiceUnavailable),
)
async def register(
    data: DeviceRegister,
    request: Request,
    session: DbSession,
    credentials: BearerCredentials,
    identities: BrokerIdentities,
    key: ProvisioningKey = None,
) -> dict[str, Any]:
    """An admin's token or `X-Provisioning-Key`. The answer holds `device_secret` (for signing),
    `device_token` (role device) and, when the broker takes device credentials, `mqtt_username`
    and `mqtt_password` once: the server never shows them again. 503 when the broker did not
    make the badge's identity (nothing is registered)."""
    await _admin_or_provisioning_key(request, credentials, key)
    return await devices.register(
        session, data, secret_key=_secret_key(request), tokens=device_tokens(request), identities=identities
    )


@router.post(
    "/{device_id}/mqtt-credentials",
    response_model=MqttCredentials,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, ServiceUnavailable),
)
async def new_mqtt_credentials(
    device_id: str, _admin: Admin, session: DbSession, identities: BrokerIdentities
) -> dict[str, Any]:
    """A new MQTT password for the badge, shown once; the old one stops working at once (with
    Mosquitto its connection is closed). 409 when the broker takes no device credentials."""
    return await devices.new_mqtt_password(session, device_id, identities)


@router.delete(
    "/{device_id}",
    status_code=204,
    responses=error_responses(Unauthorized, Forbidden, NotFound, ServiceUnavailable),
)
async def decommission(
    device_id: str, _admin: Admin, session: DbSession, identities: BrokerIdentities
) -> Response:
    """Decommission the badge: its broker identity is removed at once (with Mosquitto its
    connection is closed), its device token stops working, and the badge is deleted with its
    heartbeats, status reports, logs, configs, deployments and alerts. Export its logs first
    if they are wanted."""
    await devices.decommission(session, device_id, identities)
    return Response(status_code=204)


@router.get("", response_model=DeviceList, responses=error_responses(Unauthorized))
async def list_devices(
    request: Request,
    principal: Reader,
    db: ReadDb,
    page: PageParams,
    status: OnlineStatus | None = None,
    device_type: Annotated[str | None, Query(max_length=32)] = None,
    channel: VersionType | None = None,
    q: Annotated[
        str | None, Query(max_length=64, description="A part of the device id, name or MAC address")
    ] = None,
) -> Any:
    """Online means a heartbeat within `KEEL_BADGE_OFFLINE_AFTER_SECONDS`. A device sees itself,
    a `user` the badges bound to them. `device_type`, `channel` and `q` (case-insensitive)
    narrow the list."""
    return await devices.list_devices(
        db,
        page,
        status=status,
        offline_after=_offline_after(request),
        only=principal.device_id,
        owner=principal.owner,
        device_type=device_type,
        channel=None if channel is None else channel.value,
        search=q,
    )


@router.get("/{device_id}", response_model=DeviceDetail, responses=error_responses(Unauthorized, NotFound))
async def detail(device_id: str, request: Request, principal: Reader, db: ReadDb) -> dict[str, Any]:
    principal.own_device(device_id)
    return await devices.detail(db, device_id, offline_after=_offline_after(request), owner=principal.owner)


@router.patch(
    "/{device_id}",
    response_model=DeviceOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Unprocessable),
)
async def update_device(
    device_id: str, data: DeviceUpdate, request: Request, principal: Writer, session: DbSession
) -> dict[str, Any]:
    """Change the fields given: `channel` (stable, beta, alpha) decides which versions the
    badge is offered and pushed from now on; `user_id` (an admin's to set) binds the badge to
    that user, or to nobody with `null`: a `user` sees and changes only the badges bound to them."""
    if "user_id" in data.model_fields_set and not principal.is_admin:
        raise Forbidden("Only an admin binds a badge to a user")
    await principal.see_device(session, device_id)
    return await devices.update(session, device_id, data, offline_after=_offline_after(request))


@router.get(
    "/{device_id}/heartbeats",
    response_model=list[HeartbeatOut],
    responses=error_responses(Unauthorized, NotFound),
)
async def heartbeats(
    device_id: str,
    principal: Reader,
    db: ReadDb,
    since: UtcDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Any]:
    """The heartbeat history, newest first."""
    await principal.see_device(db, device_id)
    return await devices.heartbeats(db, device_id, since, limit)


@router.get(
    "/{device_id}/heartbeats/daily",
    response_model=list[HeartbeatDailyOut],
    responses=error_responses(Unauthorized, NotFound),
)
async def heartbeats_daily(
    device_id: str,
    principal: Reader,
    db: ReadDb,
    start: date | None = None,
    end: date | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 31,
) -> list[Any]:
    """The daily rollups (UTC days, newest first; `start` and `end` included): min, average
    and max of cpu, memory and temperature and the heartbeat count, computed after each day
    ends and kept `KEEL_RETENTION_HEARTBEAT_ROLLUPS_DAYS`, past the raw heartbeats."""
    await principal.see_device(db, device_id)
    return await devices.daily(db, device_id, start, end, limit)


@router.get(
    "/{device_id}/config", response_model=list[ConfigOut], responses=error_responses(Unauthorized, NotFound)
)
async def get_config(device_id: str, request: Request, principal: Reader, db: ReadDb) -> list[dict[str, Any]]:
    """The device's keys and the module-wide keys that apply to it, each of the device's own with
    the version the device reported applied (`reported_version`). Encrypted values are shown
    to admins and to the device itself, null to everyone else."""
    await principal.see_device(db, device_id)
    rows = await configs.list_configs(db, device_id=device_id, module_name=None, effective=True)
    reveal = principal.is_admin or principal.is_device
    return [configs.view(row, reveal=reveal, secret_key=_secret_key(request)) for row in rows]


@router.get(
    "/{device_id}/config/shadow",
    response_model=ConfigShadow,
    responses=error_responses(Unauthorized, NotFound),
)
async def get_shadow(device_id: str, request: Request, principal: Reader, db: ReadDb) -> dict[str, Any]:
    """The device's own keys as desired (`version`), as reported applied (`reported_version`)
    and the delta between them: what is pushed again on `config/update` each time the device
    comes back online, until it reports it applied. A device may read its own (signed)."""
    await principal.see_device(db, device_id)
    reveal = principal.is_admin or principal.is_device
    return await configs.shadow(db, device_id, reveal=reveal, secret_key=_secret_key(request))


@router.post(
    "/{device_id}/config/reported",
    response_model=ConfigShadow,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def report_config(
    device_id: str, data: ConfigReportedIn, request: Request, principal: DeviceCaller, session: DbSession
) -> dict[str, Any]:
    """The `config/reported` MQTT payload over HTTP, signed: the keys the device applied, each
    at the `version` its `config/update` carried. Answers the shadow as it now stands."""
    principal.own_device(device_id)
    batch = ingest.Batch()
    batch.add(device_id, data)
    await ingest.store(await session.connection(), batch, offline_after=_offline_after(request))
    return await configs.shadow(session, device_id, reveal=True, secret_key=_secret_key(request))


@router.put(
    "/{device_id}/config",
    response_model=ConfigOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def put_config(
    device_id: str, data: ConfigSet, request: Request, principal: Writer, session: DbSession, push: Push
) -> dict[str, Any]:
    """Set one key; a new version of it, pushed to the device on `config/update` after commit.
    Only admins may set encrypted values; a `user` only on the badges bound to them."""
    await configs.check_change(
        session,
        device_id=device_id,
        encrypted=data.is_encrypted,
        admin=principal.is_admin,
        owner=principal.owner,
    )
    config, change = await configs.set_config(
        session,
        data,
        device_id=device_id,
        actor=f"user:{principal.user_id}",
        change="set",
        secret_key=_secret_key(request),
        is_encrypted=data.is_encrypted,
    )
    if change is not None:
        push.send(device_id, "config/update", configs.message(change))
    return configs.view(config, reveal=principal.is_admin, secret_key=_secret_key(request))


@router.post(
    "/{device_id}/command",
    status_code=202,
    response_model=Published,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def command(device_id: str, data: Command, writer: Writer, db: ReadDb, push: Push) -> Published:
    """Sent on `luna/device/{device_id}/command` after the answer; 409 when this server has no
    MQTT broker (the command could not reach the device). A `user`: their badges only."""
    await writer.see_device(db, device_id)
    if not push.enabled:
        raise Conflict("MQTT is not configured on this server (KEEL_BADGE_MQTT_URL): commands cannot be sent")
    payload = {**data.model_dump(exclude_none=True), "timestamp": configs.now_text()}
    push.send(device_id, "command", payload)
    return Published(device_id=device_id, topic=topic(device_id, "command"), published=True)


async def _ingest(request: Request, session: DbSession, push: Push, device_id: str, message: Any) -> Ingested:
    """Stored as MQTT stores it; a device that was offline gets its config delta pushed."""
    batch = ingest.Batch()
    batch.add(device_id, message)
    connection = await session.connection()
    stored = await ingest.store(connection, batch, offline_after=_offline_after(request))
    for change in await configs.delta(connection, stored.came_online, secret_key=_secret_key(request)):
        push.send(change.device_id, "config/update", configs.message(change))
    return Ingested(stored=stored.messages)


_INGEST = {
    "status_code": 201,
    "response_model": Ingested,
    "responses": error_responses(Unauthorized, Forbidden, NotFound),
}


@router.post("/{device_id}/heartbeat", **_INGEST)
async def heartbeat(
    device_id: str,
    data: HeartbeatIn,
    request: Request,
    principal: DeviceCaller,
    session: DbSession,
    push: Push,
) -> Ingested:
    """The MQTT heartbeat payload over HTTP, signed (`X-Timestamp`, `X-Signature`). The first
    heartbeat after the device was offline resolves its offline alerts and pushes its config delta."""
    principal.own_device(device_id)
    return await _ingest(request, session, push, device_id, data)


@router.post("/{device_id}/logs", **_INGEST)
async def logs(
    device_id: str, data: LogIn, request: Request, principal: DeviceCaller, session: DbSession, push: Push
) -> Ingested:
    """The MQTT log payload over HTTP, signed."""
    principal.own_device(device_id)
    return await _ingest(request, session, push, device_id, data)


@router.post("/{device_id}/status", **_INGEST)
async def status(
    device_id: str, data: StatusIn, request: Request, principal: DeviceCaller, session: DbSession, push: Push
) -> Ingested:
    """The MQTT status payload over HTTP, signed."""
    principal.own_device(device_id)
    return await _ingest(request, session, push, device_id, data)
