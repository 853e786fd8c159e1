"""The fitness API's bodies (spec 000, section 4)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from keel.core.params import Schema, UtcDatetime
from keel.core.schemas import ORM

Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


# --- auth ----------------------------------------------------------------------------------


class RegisterRequest(Schema):
    email: EmailStr
    password: Password
    display_name: DisplayName


class LoginRequest(Schema):
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class PasswordResetRequest(Schema):
    email: EmailStr


class PasswordReset(Schema):
    email: EmailStr
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    new_password: Password


class SSOProvider(StrEnum):
    apple = "apple"
    google = "google"
    facebook = "facebook"


class SSORequest(Schema):
    """Apple and Google send `id_token`; Facebook sends `access_token`."""

    id_token: Annotated[str, StringConstraints(min_length=1, max_length=8192)] | None = None
    access_token: Annotated[str, StringConstraints(min_length=1, max_length=8192)] | None = None


# --- users ---------------------------------------------------------------------------------


class Gender(StrEnum):
    male = "m"
    female = "f"
    other = "o"


class UserStatOut(ORM):
    total_distance_km: float
    total_duration_seconds: int
    total_calories: float
    total_xp: int
    current_level: int
    workout_streak_days: int
    last_workout_date: datetime | None


class UserOut(ORM):
    id: int
    user_uuid: uuid.UUID
    email: str
    display_name: str
    avatar_url: str | None
    gender: Gender
    height_cm: float | None
    weight_kg: float | None
    timezone: str
    is_admin: bool
    # A field of spec 000 3.2's User, which a client written from the document reads.
    is_active: bool
    created_at: datetime


class UserMe(UserOut):
    stats: UserStatOut


class UserUpdate(Schema):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    not_nullable = ("display_name", "gender", "timezone")

    display_name: DisplayName | None = None
    gender: Gender | None = None
    height_cm: Annotated[float, Field(ge=50, le=272)] | None = None
    weight_kg: Annotated[float, Field(ge=20, le=400)] | None = None
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class UserStatUpdate(Schema):
    """The app's own totals, which overwrite the server's (spec 4.2)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)
    not_nullable = (
        "total_distance_km",
        "total_duration_seconds",
        "total_calories",
        "total_xp",
        "current_level",
        "workout_streak_days",
    )

    total_distance_km: Annotated[float, Field(ge=0, le=10_000_000)] | None = None
    total_duration_seconds: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    total_calories: Annotated[float, Field(ge=0, le=1e9)] | None = None
    total_xp: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    current_level: Annotated[int, Field(ge=1, le=10_000)] | None = None
    workout_streak_days: Annotated[int, Field(ge=0, le=100_000)] | None = None
    last_workout_date: datetime | None = None


# --- trainings -----------------------------------------------------------------------------


class TrainingType(StrEnum):
    course = "course"
    game = "game"
    free = "free"


DeviceType = Literal["rower", "bike", "treadmill"]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^(https?://|/)\S+$")]


class TrainingSummaryOut(ORM):
    id: int
    title: str
    type: TrainingType
    cover_url: str
    video_url: str | None
    supported_devices: list[str]
    enabled: bool


class TrainingOut(TrainingSummaryOut):
    description: str | None
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class TrainingCreate(Schema):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    type: TrainingType
    cover_url: Url
    video_url: Url | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="The resistance script")
    supported_devices: Annotated[list[DeviceType], Field(min_length=1, max_length=3)]
    enabled: bool = True


class TrainingUpdate(Schema):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    not_nullable = ("title", "type", "cover_url", "settings", "supported_devices", "enabled")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] | None = (
        None
    )
    type: TrainingType | None = None
    cover_url: Url | None = None
    video_url: Url | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    settings: dict[str, Any] | None = None
    supported_devices: Annotated[list[DeviceType], Field(min_length=1, max_length=3)] | None = None
    enabled: bool | None = None


# --- meta ----------------------------------------------------------------------------------


class Platform(StrEnum):
    ios = "ios"
    android = "android"


Version = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^v?\d{1,6}(\.\d{1,6}){0,2}$")]


class AppVersionSet(Schema):
    latest_version: Version
    min_supported_version: Version
    store_url: Url
    release_notes: Annotated[str, StringConstraints(max_length=10_000)] | None = None


class AppVersionOut(BaseModel):
    platform: Platform
    latest_version: str
    min_supported_version: str
    store_url: str
    release_notes: str | None
    current_version: str | None
    update_available: bool
    force_update: bool


# --- sessions ------------------------------------------------------------------------------


class SourceType(StrEnum):
    backend = "backend"  # a course from the back office (training_id)
    local = "local"  # a course built into the app (internal_course_name)
    free = "free"  # free training


class WorkoutSessionIn(Schema):
    client_session_id: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
        Field(
            validation_alias=AliasChoices("client_session_id", "client_session_uuid"),
            description="The phone's id of the session; `client_session_uuid` (the spec's sequence "
            "diagram) is taken as the same field",
        ),
    ]
    source_type: SourceType = SourceType.free
    training_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    internal_course_name: Annotated[str, StringConstraints(max_length=255)] | None = None
    device_type: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    start_time: UtcDatetime
    end_time: UtcDatetime
    duration_seconds: Annotated[
        int,
        Field(
            ge=0,
            le=7 * 86_400,
            description="Moving time: may be shorter than end_time - start_time (pauses), "
            "never longer than it by more than max(5 s, 2%)",
        ),
    ]
    total_calories: Annotated[float, Field(ge=0, le=100_000)]
    total_distance_meters: Annotated[float, Field(ge=0, le=10_000_000)]
    xp_earned: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    metrics_summary: dict[str, Any] = Field(
        default_factory=dict,
        description="Stored as sent, keys the device schema does not know included; see `/meta/schemas`",
    )
    time_series_data: list[dict[str, Any]] = Field(
        default_factory=list, description="Points, each stored as sent; at most 20,000"
    )


MAX_BATCH = 500


class BatchUploadIn(Schema):
    """Documents the batch upload's body; the route reads the bytes itself (services.sessions)."""

    sessions: Annotated[
        list[dict[str, Any]],
        Field(
            min_length=1,
            max_length=MAX_BATCH,
            description="WorkoutSessionIn objects. Each is checked on its own: one that is "
            "invalid is rejected with its reason and never blocks the others.",
        ),
    ]


class SessionStatus(StrEnum):
    created = "created"
    duplicate = "duplicate"
    rejected = "rejected"


class SessionResult(BaseModel):
    client_session_id: str | None
    status: SessionStatus
    id: uuid.UUID | None = None
    reason: str | None = Field(None, description="Why it was rejected, in words the user can read")
    retryable: bool = Field(
        False,
        description="A rejection the same session may pass later, unchanged: its start time is still "
        "in the future by the server's clock. Keep it and send it again later; every other rejection "
        "is final",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What was stored as sent but not understood: fields outside the device's schema, "
        "values out of range (left out of any aggregate), a device type with no schema",
    )


class BatchUploadOut(BaseModel):
    results: list[SessionResult]
    created: int
    duplicates: int
    rejected: int
    stats: UserStatOut


class Problem(BaseModel):
    """One entry of a 422's `detail`, FastAPI's list shape (every 422 of keel has it)."""

    type: str
    loc: list[str | int]
    msg: str
    input: Any = None


class BatchUploadRejected(BatchUploadOut):
    """422 when every item was rejected (nothing was stored): the results, with the 422 `detail`."""

    detail: list[Problem]


class BatchUnreadable(BaseModel):
    """422 when the body is not a batch at all."""

    detail: list[Problem]


class WorkoutSessionOut(ORM):
    id: uuid.UUID
    client_session_id: str
    user_id: int  # spec 000 3.2's WorkoutSession has it: the owner, the `id` of GET /users/me
    source_type: SourceType
    training_id: int | None
    internal_course_name: str | None
    device_type: str
    start_time: datetime
    end_time: datetime
    duration_seconds: int
    total_calories: float
    total_distance_meters: float
    xp_earned: int
    metrics_summary: dict[str, Any]
    created_at: datetime


class StoredSessionChange(WorkoutSessionOut):
    """In the change feed (`GET /sessions?updated_since=`): a session stored since."""

    deleted: Literal[False]
    deleted_at: None
    updated_at: datetime


class DeletedSessionChange(ORM):
    """In the change feed: a session deleted since (its tombstone)."""

    id: uuid.UUID
    client_session_id: str
    user_id: int
    deleted: Literal[True]
    deleted_at: datetime
    updated_at: datetime


SessionChange = StoredSessionChange | DeletedSessionChange


class WorkoutSessionUploaded(WorkoutSessionOut):
    warnings: list[str]


class WorkoutSessionDetail(WorkoutSessionOut):
    time_series_data: list[dict[str, Any]]


# --- account export and deletion -----------------------------------------------------------


class ExportedUser(UserOut):
    """Every column of the user but the password hash."""

    updated_at: datetime


class LinkedAccountOut(ORM):
    """A provider the user signs in with: which one, when linked, and what it shared (email,
    name, picture); no token or secret is ever stored."""

    provider: SSOProvider
    created_at: datetime
    extra_data: dict[str, Any]


class AccountExport(BaseModel):
    exported_at: datetime
    user: ExportedUser
    stats: UserStatOut
    social_accounts: list[LinkedAccountOut]
    # Every session, with its metrics and points as stored, oldest first.
    sessions: list[WorkoutSessionDetail]


class AccountDeletion(Schema):
    """The account's password; or, for an account without one (made by signing in with a
    provider), a token from that provider issued in the last few minutes: `id_token` for Apple
    and Google, `access_token` for Facebook, as `POST /auth/sso/{provider}` takes them."""

    password: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    provider: SSOProvider | None = None
    id_token: Annotated[str, StringConstraints(min_length=1, max_length=8192)] | None = None
    access_token: Annotated[str, StringConstraints(min_length=1, max_length=8192)] | None = None


# --- the back office (admin reads) ---------------------------------------------------------


class SessionOwner(BaseModel):
    id: int
    email: str
    display_name: str


class AdminSessionOut(WorkoutSessionOut):
    """A session in the back office's list: without its time series, with whose it is."""

    user: SessionOwner


class AdminSessionDetail(WorkoutSessionDetail):
    user: SessionOwner


class AdminUserOut(ExportedUser):
    """A user as the back office lists them: every column but the password hash."""


class DeviceActivity(BaseModel):
    """A user's stored sessions on one kind of machine, summed."""

    device_type: str
    sessions: int
    duration_seconds: int
    calories: float
    distance_meters: float
    last_start_time: datetime


class UserActivity(BaseModel):
    """What the user's stored sessions add up to, counted from the sessions themselves (the
    app may overwrite `stats`; these follow what is stored), per device type most used first."""

    sessions: int
    duration_seconds: int
    calories: float
    distance_meters: float
    first_start_time: datetime | None
    last_start_time: datetime | None
    by_device: list[DeviceActivity]


class AdminUserDetail(AdminUserOut):
    stats: UserStatOut
    activity: UserActivity


class AppVersionRecord(ORM):
    """A platform's published versions, as `PUT /meta/app_version/{platform}` stored them."""

    platform: Platform
    latest_version: str
    min_supported_version: str
    store_url: str
    release_notes: str | None
    updated_at: datetime
