"""The fitness API's bodies (spec 000, section 4)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from keel.core.params import Schema

Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ORM(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- auth ----------------------------------------------------------------------------------


class RegisterRequest(Schema):
    email: EmailStr
    password: Password
    display_name: DisplayName


class LoginRequest(Schema):
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshRequest(Schema):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class LogoutRequest(Schema):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


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


class Message(BaseModel):
    message: str


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
