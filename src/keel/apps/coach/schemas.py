"""The coach API's bodies (spec 001, section 4.2)."""

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    EmailStr,
    Field,
    StringConstraints,
    computed_field,
    create_model,
    field_validator,
    model_validator,
)

from keel.core.errors import ErrorDetail
from keel.core.pagination import Page
from keel.core.params import Schema
from keel.core.schemas import ORM
from keel.core.security.identity import normalize_phone
from keel.core.security.schemas import TokenPair

Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=256)]


def _valid_timezone(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
    return value


def _valid_phone(value: str | None) -> str | None:
    return None if value is None else normalize_phone(value)


TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# A row's version is an INTEGER column: a larger one is a 422, not the driver's overflow (500).
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]


# --- accounts ------------------------------------------------------------------------------


class RegisterRequest(Schema):
    """An email, a phone number, or both; the privacy policy version the user accepted."""

    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    password: Password
    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None
    ) = None
    timezone: TimeZone = "UTC"
    privacy_policy_version: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)
    ]
    device: Annotated[str, StringConstraints(max_length=255)] | None = None

    _phone = field_validator("phone")(_valid_phone)
    _timezone = field_validator("timezone")(_valid_timezone)

    @model_validator(mode="after")
    def _an_identity(self) -> Self:
        if self.email is None and self.phone is None:
            raise ValueError("give an email or a phone number")
        return self


class LoginRequest(Schema):
    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    device: Annotated[str, StringConstraints(max_length=255)] | None = None

    _phone = field_validator("phone")(_valid_phone)

    @model_validator(mode="after")
    def _one_identity(self) -> Self:
        if (self.email is None) == (self.phone is None):
            raise ValueError("give either an email or a phone number")
        return self


class PasswordResetRequest(Schema):
    email: EmailStr


class PasswordReset(Schema):
    email: EmailStr
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    new_password: Password


class PasswordChange(Schema):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    new_password: Password


class UserOut(ORM):
    id: int
    email: str | None
    phone: str | None
    display_name: str | None
    timezone: str
    privacy_policy_version: str
    privacy_accepted_at: dt.datetime
    is_admin: bool = Field(description="May use the admin endpoints (`/admin/...`) and the console")
    created_at: dt.datetime


class RegisterOut(TokenPair):
    user: UserOut


class UserUpdate(Schema):
    not_nullable = ("timezone",)

    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None
    ) = None
    timezone: TimeZone | None = None

    _timezone = field_validator("timezone")(_valid_timezone)


class SessionOut(ORM):
    id: str
    device: str | None
    ip_address: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime
    expires_at: dt.datetime
    current: bool


class DeletionConfirmation(BaseModel):
    confirmation_token: str
    expires_at: dt.datetime


class DeleteAccount(Schema):
    confirmation_token: Token


# --- records -------------------------------------------------------------------------------


class Dimension(StrEnum):
    workout = "workout"
    meal = "meal"
    sleep = "sleep"
    work = "work"
    reading = "reading"


class MealKind(StrEnum):
    breakfast = "breakfast"
    lunch = "lunch"
    dinner = "dinner"
    snack = "snack"


Calories = Annotated[float, Field(ge=0, le=20_000)]


class WorkoutFields(Schema):
    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    minutes: Annotated[int, Field(ge=1, le=1440)]
    calories: Calories | None = None


class MealFields(Schema):
    kind: MealKind
    calories: Calories | None = None
    items: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50
    )


# A day inside the years datetime can hold, so moving a time to UTC or to the user's zone (for
# the record's day) cannot overflow: "9999-12-31T23:00-12:00" was a 500 (schemathesis).
_SleepTime = Annotated[
    AwareDatetime,
    Field(ge=dt.datetime(1, 1, 2, tzinfo=dt.UTC), le=dt.datetime(9999, 12, 30, tzinfo=dt.UTC)),
]


class SleepFields(Schema):
    bed_time: _SleepTime
    wake_time: _SleepTime
    quality: Annotated[int, Field(ge=1, le=5)] | None = None

    @model_validator(mode="after")
    def _a_night(self) -> Self:
        if self.wake_time <= self.bed_time:
            raise ValueError("wake_time must be after bed_time")
        if self.wake_time - self.bed_time > dt.timedelta(hours=24):
            raise ValueError("a sleep lasts at most 24 hours")
        return self


class WorkFields(Schema):
    focus_minutes: Annotated[int, Field(ge=0, le=1440)]
    tasks_done: Annotated[int, Field(ge=0, le=10_000)] | None = None
    summary: Text | None = None


class ReadingFields(Schema):
    title: ShortText
    pages: Annotated[int, Field(ge=0, le=100_000)] | None = None
    minutes: Annotated[int, Field(ge=0, le=1440)] | None = None
    notes: Text | None = None


class RecordCreate(Schema):
    id: uuid.UUID | None = Field(
        None, description="The client's own id: a repeat with it returns the stored record"
    )
    date: dt.date | None = Field(
        None,
        description="The day it belongs to; default: today in the user's time zone (sleep: the wake-up day)",
    )
    note: Text | None = None
    version: Version | None = Field(
        None,
        description=(
            "The version the record has on the client (default 1). Repeating a stored `id` with "
            "another body updates the record when this is newer than the server's version, "
            "else is 409 with the server's copy"
        ),
    )


class RecordUpdate(Schema):
    date: dt.date | None = None
    note: Text | None = None
    version: Version | None = Field(None, description="The version this edit is based on (or If-Match)")


class RecordOut(ORM):
    id: uuid.UUID
    date: dt.date
    note: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class WorkoutCreate(WorkoutFields, RecordCreate):
    pass


class WorkoutUpdate(WorkoutFields, RecordUpdate):
    pass


class WorkoutOut(RecordOut):
    kind: str
    minutes: int
    calories: float | None


class MealCreate(MealFields, RecordCreate):
    pass


class MealUpdate(MealFields, RecordUpdate):
    pass


class MealOut(RecordOut):
    kind: MealKind
    calories: float | None
    items: list[str]


class SleepCreate(SleepFields, RecordCreate):
    pass


class SleepUpdate(SleepFields, RecordUpdate):
    pass


class SleepOut(RecordOut):
    bed_time: dt.datetime
    wake_time: dt.datetime
    duration_minutes: int
    quality: int | None


class WorkCreate(WorkFields, RecordCreate):
    pass


class WorkUpdate(WorkFields, RecordUpdate):
    pass


class WorkOut(RecordOut):
    focus_minutes: int
    tasks_done: int | None
    summary: str | None


class ReadingCreate(ReadingFields, RecordCreate):
    pass


class ReadingUpdate(ReadingFields, RecordUpdate):
    pass


class ReadingOut(RecordOut):
    title: str
    pages: int | None
    minutes: int | None
    notes: str | None


class Tombstone(BaseModel):
    """A deleted record, as the change feed and a conflict with it answer it."""

    id: uuid.UUID
    deleted: Literal[True] = True
    deleted_at: dt.datetime
    updated_at: dt.datetime


class ConflictOut(BaseModel):
    detail: str
    code: str
    current: dict[str, Any] | None = Field(
        None,
        description="The server's copy (a record, its tombstone, or a day log) when the conflict is a version's",
    )


# A write that may meet a newer version: 409 with the server's copy (services/records.py
# VersionConflict), beside 401.
conflict_response: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorDetail, "description": "Unauthorized"},
    409: {"model": ConflictOut, "description": "Conflict: a stale version, or an id in use"},
}


def change_of(out: type[RecordOut]) -> type[RecordOut]:
    """A stored record as the change feed answers it: marked `deleted: false` beside tombstones."""
    return create_model(  # type: ignore[no-any-return, call-overload]
        out.__name__.removesuffix("Out") + "Change",
        __base__=out,
        deleted=(Literal[False], False),
        deleted_at=(None, None),
    )


# --- day logs ------------------------------------------------------------------------------


class DayStatus(StrEnum):
    open = "open"
    reviewed = "reviewed"


class DayRecords(BaseModel):
    workout: list[WorkoutOut]
    meal: list[MealOut]
    sleep: list[SleepOut]
    work: list[WorkOut]
    reading: list[ReadingOut]


class DayLogOut(BaseModel):
    date: dt.date
    status: DayStatus
    note: str | None
    score: int = Field(description="0-100: the mean of the five dimensions' progress to target")
    score_parts: dict[str, float]
    ai_report: dict[str, Any] | None
    ai_plan: dict[str, Any] | None
    version: int
    updated_at: dt.datetime | None = Field(description="When the log last changed; null before it exists")
    records: DayRecords


class DayLogChange(BaseModel):
    """A day log as its change feed answers it: the log's own fields (its records have their
    own feeds, and its score follows from them)."""

    date: dt.date
    status: DayStatus
    note: str | None
    ai_report: dict[str, Any] | None
    ai_plan: dict[str, Any] | None
    version: int
    updated_at: dt.datetime


class DayLogUpdate(Schema):
    not_nullable = ("status",)

    status: DayStatus | None = None
    note: Text | None = None
    version: Version | None = None


# --- settings ------------------------------------------------------------------------------


class Targets(Schema):
    sleep_hours: Annotated[float, Field(ge=0, le=24)] = 8.0
    workout_minutes: Annotated[int, Field(ge=0, le=1440)] = 30
    calories: Annotated[int, Field(ge=0, le=20_000)] = 2000
    focus_minutes: Annotated[int, Field(ge=0, le=1440)] = 240
    reading_minutes: Annotated[int, Field(ge=0, le=1440)] = 30


class TargetsUpdate(Schema):
    not_nullable = ("sleep_hours", "workout_minutes", "calories", "focus_minutes", "reading_minutes")

    sleep_hours: Annotated[float, Field(ge=0, le=24)] | None = None
    workout_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None
    calories: Annotated[int, Field(ge=0, le=20_000)] | None = None
    focus_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None
    reading_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None


ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class Notifications(Schema):
    review_reminder: bool = True
    review_time: ClockTime = "21:30"
    plan_reminder: bool = True
    plan_time: ClockTime = "07:30"
    weekly_report: bool = True


class AIStyle(StrEnum):
    gentle = "gentle"
    direct = "direct"
    data = "data"


class AISettings(Schema):
    style: AIStyle = AIStyle.gentle
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")] = "en"


# --- AI ------------------------------------------------------------------------------------


class TaskType(StrEnum):
    review = "review"
    tomorrow_plan = "tomorrow_plan"
    reading_summary = "reading_summary"
    stats_summary = "stats_summary"


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


FINISHED = (TaskStatus.succeeded, TaskStatus.failed, TaskStatus.canceled)


def is_fallback(result: dict[str, Any] | None, provider: str | None) -> bool:
    """Whether a stored result is the rules' (results from before `fallback` was written in
    them say so by their provider)."""
    if result is None:
        return False
    return bool(result.get("fallback", (provider or "").startswith("rules")))


class ReviewRequest(Schema):
    date: dt.date


class PlanRequest(Schema):
    date: dt.date | None = Field(
        None, description="The day to plan; default: tomorrow in the user's time zone"
    )


class ReadingSummaryRequest(Schema):
    from_: dt.date | None = Field(None, alias="from", description="Default: six days before `to`")
    to: dt.date | None = Field(None, description="Default: today in the user's time zone")

    @model_validator(mode="after")
    def _a_range(self) -> Self:
        if self.from_ and self.to and (self.to - self.from_).days not in range(0, 366):
            raise ValueError("`from` must be on or before `to`, at most a year apart")
        return self


class TaskOut(ORM):
    id: uuid.UUID
    type: TaskType
    status: TaskStatus
    input: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    provider: str | None
    latency_ms: int | None
    tokens_in: int | None
    tokens_out: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @computed_field(description="The result is the rule-based writer's template, not a model's")
    @property
    def fallback(self) -> bool:
        return is_fallback(self.result, self.provider)


TaskList = Page[TaskOut]


# --- stats ---------------------------------------------------------------------------------


class DimensionStats(BaseModel):
    unit: str
    total: float
    average: float = Field(description="Per day of the period (days so far, for the current one)")
    records: int
    target: float
    days_met: int
    streak: int = Field(description="Days in a row, up to the period's last day so far, on target")
    previous_total: float
    change_pct: float | None = Field(
        description="Change of the total against the previous period; null from 0"
    )


class StatsOut(BaseModel):
    period: str
    start: dt.date
    end: dt.date
    days: int
    score_average: float
    dimensions: dict[str, DimensionStats]
    ai_summary: str | None
    ai_summary_task_id: uuid.UUID | None


# --- files ---------------------------------------------------------------------------------

# HEIC/HEIF: what an iPhone's camera saves.
UPLOAD_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "application/pdf": "pdf",
}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


class PresignRequest(Schema):
    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    content_type: Annotated[str, StringConstraints(max_length=100)]
    size: Annotated[int, Field(ge=1, le=MAX_UPLOAD_BYTES, description="Bytes; at most 10 MB")]

    @field_validator("content_type")
    @classmethod
    def _allowed_type(cls, value: str) -> str:
        if value not in UPLOAD_TYPES:
            raise ValueError(f"content_type must be one of: {', '.join(UPLOAD_TYPES)}")
        return value


class PresignOut(BaseModel):
    url: str = Field(description="POST a multipart form here: every field below, then `file`")
    method: str = "POST"
    fields: dict[str, str]
    key: str
    expires_at: dt.datetime
    download_url: str = Field(
        description="A signed link to the file once uploaded, valid an hour; `GET /files/{key}/link` renews it"
    )


class FileLink(BaseModel):
    key: str
    url: str = Field(description="A signed download link")
    expires_at: dt.datetime


# --- push tokens ---------------------------------------------------------------------------


class Platform(StrEnum):
    ios = "ios"
    android = "android"
    web = "web"


class PushTokenIn(Schema):
    token: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
    platform: Platform


class PushTokenOut(BaseModel):
    token: str
    platform: Platform
    created_at: dt.datetime
    updated_at: dt.datetime


# --- the admin console's reads (issue 15) --------------------------------------------------


class AdminUserOut(ORM):
    """A user as support lists them: the account, never the password hash, and their AI tasks'
    counts."""

    id: int
    email: str | None
    phone: str | None
    display_name: str | None
    timezone: str
    is_admin: bool
    is_active: bool
    created_at: dt.datetime
    ai_tasks: int = Field(description="AI tasks of every status")
    ai_failed: int = Field(description="Of them, failed ones")
    last_task_at: dt.datetime | None = Field(description="When the newest AI task was made")


class TaskOwner(BaseModel):
    id: int
    email: str | None
    display_name: str | None


class AdminTaskOut(BaseModel):
    """An AI task as support lists it: its run, never what it wrote."""

    id: uuid.UUID
    user: TaskOwner
    type: TaskType
    status: TaskStatus
    subject: str | None = Field(description="The day, range or period the task is about")
    provider: str | None = Field(description="`llm:<model>`, `rules`, or `rules:fallback` (the LLM failed)")
    model: str | None = Field(description="The model an `llm:` provider names")
    fallback: bool = Field(description="The result is the rule-based writer's template")
    runs: int
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int | None = Field(description="How long the writer (the model or the rules) took")
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None = Field(description="When it succeeded, failed or was canceled")


class WithheldField(BaseModel):
    field: str
    size: int
    unit: Literal["characters", "items"]


class AdminTaskDetail(AdminTaskOut):
    """One task with what it was asked (`input`: only its day, range or period) and its result's
    bookkeeping; the text written for the user (summary, highlights, suggestions) is withheld,
    each named in `withheld` with its size, since it reads back the user's day."""

    input: dict[str, Any]
    result: dict[str, Any] | None = Field(description="The stored result without the written text")
    withheld: list[WithheldField]


class DailyUsage(BaseModel):
    day: dt.date
    tasks: int


class AIUsageOut(BaseModel):
    daily_quota: int = Field(description="KEEL_COACH_AI_DAILY_QUOTA: tasks a user may start per UTC day")
    today: int = Field(description="Tasks started today (UTC)")
    days: list[DailyUsage] = Field(
        description="The days still kept (KEEL_RETENTION_COACH_AI_USAGE_DAYS), newest first"
    )
    by_status: dict[str, int] = Field(description="The user's AI tasks per status, every status named")


class SessionsSummary(BaseModel):
    active: int = Field(description="Devices signed in now")
    last_used_at: dt.datetime | None


class AdminUserDetail(AdminUserOut):
    privacy_policy_version: str
    privacy_accepted_at: dt.datetime
    ai_settings: AISettings
    records: dict[str, int] = Field(description="Records kept per dimension (deleted ones not counted)")
    day_logs: int
    last_record_day: dt.date | None = Field(description="The latest day with a record")
    sessions: SessionsSummary
    ai_usage: AIUsageOut
    recent_tasks: list[AdminTaskOut] = Field(description="The newest AI tasks (at most 10)")


class ProviderCount(BaseModel):
    provider: str
    tasks: int
