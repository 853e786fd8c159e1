"""The badge API's bodies (spec 004, "接口定义示例") and the MQTT payloads, which HTTP ingest shares:
the types every area uses, and accounts, devices, ingest, logs, error codes and alerts. Versions
and rollouts, modules and configs have a module each beside this one."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, EmailStr, Field, StringConstraints, model_validator

from keel.core.params import Schema
from keel.core.schemas import ORM


def bounded_text(max_length: int, min_length: int = 1) -> Any:
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)
    ]


Name = bounded_text(64)
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Semver = Annotated[str, StringConstraints(pattern=r"^v?\d{1,4}(\.\d{1,4}){0,2}$", max_length=16)]
ConfigKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]


class Role(StrEnum):
    admin = "admin"
    user = "user"
    guest = "guest"


class Level(StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"


class VersionType(StrEnum):
    stable = "stable"
    beta = "beta"
    alpha = "alpha"


class ConfigType(StrEnum):
    string = "string"
    integer = "integer"
    float = "float"
    bool = "bool"
    json = "json"


class RolloutStatus(StrEnum):
    active = "active"
    paused = "paused"
    rolled_back = "rolled_back"


class DeploymentState(StrEnum):
    """One badge's progress with one version (issue 17 item 5): `queued` until it reports."""

    queued = "queued"
    downloading = "downloading"
    installing = "installing"
    success = "success"
    failed = "failed"
    rolled_back = "rolled_back"


class OnlineStatus(StrEnum):
    online = "online"
    offline = "offline"


# --- accounts ------------------------------------------------------------------------------


class LoginRequest(Schema):
    username: bounded_text(128) | None = None
    email: bounded_text(128) | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]

    @model_validator(mode="after")
    def _one_identity(self) -> "LoginRequest":
        if not self.username and not self.email:
            raise ValueError("give a username or an email")
        return self


class UserCreate(Schema):
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,64}$")]
    email: EmailStr
    password: Password
    role: Role = Role.user
    profile_info: dict[str, Any] | None = None


class UserOut(ORM):
    id: int
    username: str
    email: str
    role: str
    is_active: bool
    created_at: datetime
    last_login: datetime | None
    profile_info: dict[str, Any] | None


# --- devices -------------------------------------------------------------------------------


class DeviceRegister(Schema):
    device_id: DeviceId
    device_name: bounded_text(128)
    device_type: bounded_text(32) = "luna_badge"
    hardware_version: bounded_text(16) | None = None
    software_version: Semver | None = None
    mac_address: (
        Annotated[str, StringConstraints(pattern=r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")] | None
    ) = None
    ip_address: Annotated[str, StringConstraints(max_length=15)] | None = None
    user_id: int | None = Field(None, ge=1, le=2**31 - 1)
    location_info: dict[str, Any] | None = None
    device_info: dict[str, Any] | None = None
    channel: VersionType = Field(
        VersionType.stable,
        description="The versions the badge gets: stable ones on every channel, beta ones on beta "
        "and alpha, alpha ones on alpha only",
    )


class DeviceUpdate(Schema):
    """`PATCH /devices/{id}`: the fields given change, the others stay."""

    not_nullable = ("channel",)

    channel: VersionType | None = None
    # The user the badge is bound to, or null for nobody (issue 17 item 8).
    user_id: int | None = Field(None, ge=1, le=2**31 - 1)


class DeviceOut(ORM):
    id: int
    device_id: str
    device_name: str
    device_type: str
    hardware_version: str | None
    software_version: str | None
    mac_address: str | None
    ip_address: str | None
    status: OnlineStatus
    last_heartbeat: datetime | None
    created_at: datetime
    updated_at: datetime
    user_id: int | None
    config_version: str | None
    location_info: dict[str, Any] | None
    device_info: dict[str, Any] | None
    # Issue 17: the config shadow's desired version (config_version is the applied one), and the
    # MQTT messages of this device that were dropped as malformed.
    desired_config_version: str | None = None
    rejected: int = 0
    last_rejected_reason: str | None = None
    last_rejected_at: datetime | None = None
    channel: VersionType = VersionType.stable


class HeartbeatOut(ORM):
    occurred_at: datetime
    received_at: datetime
    status: str
    cpu_usage: float | None
    memory_usage: float | None
    temperature: float | None


class DeviceDetail(DeviceOut):
    latest_heartbeat: HeartbeatOut | None
    latest_status: dict[str, Any] | None


class DeviceRegistered(DeviceOut):
    """Shown once: the server keeps the secret encrypted and never answers it again."""

    device_secret: str
    device_token: str
    token_type: str = "bearer"
    mqtt_username: str | None = Field(
        description="The badge's MQTT username (its device_id); null when the broker takes no "
        "device credentials (neither KEEL_BADGE_MQTT_DYNSEC nor KEEL_BADGE_MQTT_HOOK_TOKEN)"
    )
    mqtt_password: str | None = Field(description="Its MQTT password, shown once; null as above")


class MqttCredentials(BaseModel):
    """A badge's new MQTT password, shown once: the previous one no longer works."""

    device_id: str
    mqtt_username: str
    mqtt_password: str


class DeviceList(BaseModel):
    items: list[DeviceOut]
    total: int
    page: int
    limit: int
    total_pages: int


class Command(Schema):
    command: bounded_text(64)
    module: bounded_text(64) | None = None
    params: dict[str, Any] | None = None


class Published(BaseModel):
    device_id: str
    topic: str
    published: bool


# --- ingest payloads (MQTT and HTTP) -------------------------------------------------------


class HeartbeatIn(Schema):
    timestamp: AwareDatetime
    status: bounded_text(16) = "online"
    cpu_usage: float | None = Field(None, ge=0, le=100)
    memory_usage: float | None = Field(None, ge=0, le=100)
    temperature: float | None = Field(None, ge=-100, le=300)


class LogIn(Schema):
    timestamp: AwareDatetime
    level: Level
    module: bounded_text(64) | None = None
    message: bounded_text(10_000)
    code: bounded_text(16, 0) = ""
    details: dict[str, Any] | None = None
    stack_trace: Annotated[str, StringConstraints(max_length=100_000)] | None = None


class StatusIn(Schema):
    timestamp: AwareDatetime
    modules: dict[str, Any] = Field(default_factory=dict)
    performance: dict[str, Any] = Field(default_factory=dict)


class Ingested(BaseModel):
    stored: int


# --- logs ----------------------------------------------------------------------------------


class LogOut(ORM):
    id: int
    device_id: str
    error_code: str
    error_level: str
    error_message: str
    error_details: dict[str, Any] | None
    module_name: str | None
    stack_trace: str | None
    occurred_at: datetime
    resolved_at: datetime | None
    resolution: str | None


class LogPage(BaseModel):
    items: list[LogOut]
    total: int
    page: int
    limit: int
    total_pages: int


class Resolve(Schema):
    resolution: bounded_text(10_000)


class LogStatistics(BaseModel):
    period: str
    since: datetime
    total: int
    by_level: dict[str, int]
    by_module: dict[str, int]
    by_day: dict[str, int]


# --- error codes ---------------------------------------------------------------------------


class ErrorCodeCreate(Schema):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,16}$")]
    level: Level
    module_name: Name | None = None
    message_zh: bounded_text(10_000)
    message_en: bounded_text(10_000)
    guide_zh: bounded_text(100_000) | None = None
    guide_en: bounded_text(100_000) | None = None


class ErrorCodeUpdate(Schema):
    not_nullable = ("level", "message_zh", "message_en")

    level: Level | None = None
    module_name: Name | None = None
    message_zh: bounded_text(10_000) | None = None
    message_en: bounded_text(10_000) | None = None
    guide_zh: bounded_text(100_000) | None = None
    guide_en: bounded_text(100_000) | None = None


class ErrorCodeOut(ORM):
    id: int
    code: str
    level: str
    module_name: str | None
    message_zh: str
    message_en: str
    guide_zh: str | None
    guide_en: str | None


class ErrorCodeLocalized(BaseModel):
    code: str
    level: str
    module_name: str | None
    lang: str
    message: str
    guide: str | None


class ErrorCodeCount(BaseModel):
    code: str
    count: int
    level: str | None
    message: str | None


# --- alerts --------------------------------------------------------------------------------


class AlertKind(StrEnum):
    critical_logs = "critical_logs"
    device_offline = "device_offline"


class AlertRuleCreate(Schema):
    name: bounded_text(128)
    kind: AlertKind
    threshold: int = Field(1, ge=1, le=1_000_000)
    window_minutes: int = Field(
        5,
        ge=1,
        le=7 * 24 * 60,
        description="critical_logs: the window the threshold counts in. device_offline rules follow "
        "the one offline threshold the device list uses (KEEL_BADGE_OFFLINE_AFTER_SECONDS).",
    )
    device_id: DeviceId | None = None


class AlertRuleOut(ORM):
    id: int
    name: str
    kind: str
    threshold: int
    window_minutes: int
    device_id: str | None
    is_active: bool
    created_at: datetime


class AlertOut(ORM):
    id: int
    rule_id: int
    device_id: str
    message: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    resolved_at: datetime | None = None


# --- issue 17 items 6, 7, 9: config shadow, presence, daily rollups ----------------------------


class PresenceStatus(StrEnum):
    online = "online"
    offline = "offline"


class PresenceIn(Schema):
    """`luna/device/{id}/lwt`: the device publishes `online` once connected and sets `offline`
    as its will, which the broker publishes when the connection ends without a DISCONNECT."""

    status: PresenceStatus
    timestamp: AwareDatetime | None = None


class AppliedConfig(Schema):
    config_key: ConfigKey
    # The `module` of the `config/update` that carried it (null for a key of no module).
    module: Name | None = None
    version: Annotated[str, StringConstraints(pattern=r"^\d{1,9}$")]


class ConfigReportedIn(Schema):
    """`luna/device/{id}/config/reported` and `POST /devices/{id}/config/reported`: the keys the
    device applied, each at the `version` its `config/update` carried."""

    timestamp: AwareDatetime | None = None
    applied: list[AppliedConfig] = Field(min_length=1, max_length=1000)


class ShadowKey(BaseModel):
    config_key: str
    module_name: str | None
    config_value: str | None
    config_type: str
    is_encrypted: bool
    version: str
    reported_version: str | None
    reported_at: datetime | None


class ConfigShadow(BaseModel):
    device_id: str
    # One more on every change of the device's keys; `config_version` is the desired version
    # the device last had fully applied (no delta left).
    desired_version: str | None
    config_version: str | None
    desired: list[ShadowKey]
    reported: list[ShadowKey]
    delta: list[ShadowKey]


class HeartbeatDailyOut(ORM):
    day: date
    count: int
    cpu_min: float | None
    cpu_avg: float | None
    cpu_max: float | None
    memory_min: float | None
    memory_avg: float | None
    memory_max: float | None
    temperature_min: float | None
    temperature_avg: float | None
    temperature_max: float | None


class HookAuthIn(BaseModel):
    """What EMQX's HTTP authenticator is configured to send (routes/broker.py); other fields ignored."""

    username: str | None = Field(None, max_length=256)
    password: str | None = Field(None, max_length=256)
    clientid: str | None = Field(None, max_length=256)


class HookAuthOut(BaseModel):
    result: Literal["allow", "deny"]
    is_superuser: bool = False


class HookAclIn(BaseModel):
    """What EMQX's HTTP authorizer is configured to send."""

    username: str | None = Field(None, max_length=256)
    clientid: str | None = Field(None, max_length=256)
    topic: str = Field(max_length=1024)
    action: Literal["publish", "subscribe"]


class HookAclOut(BaseModel):
    result: Literal["allow", "deny"]
