"""The queue API's bodies (spec 002), field names as the spec spells them."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from keel.core.params import Schema
from keel.core.schemas import Message

Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Url = Annotated[AnyHttpUrl, Field(max_length=2048)]
ServiceMinutes = Annotated[
    float,
    Field(
        gt=0,
        le=1440,
        description="Minutes per service the wait estimate uses until the store has measured its "
        "own; null: the server's default",
    ),
]


# --- auth ----------------------------------------------------------------------------------


class RegisterRequest(Schema):
    email: EmailStr
    password: Password
    name: Name


class LoginRequest(Schema):
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class UserBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str


class AuthOut(BaseModel):
    """The spec's `{user, token}`, plus what keeps a client signed in past the token's life."""

    user: UserBrief
    token: str
    refresh_token: str
    expires_in: int


class RefreshOut(BaseModel):
    token: str
    refresh_token: str
    expires_in: int


# --- users ---------------------------------------------------------------------------------


class NotificationSettings(Schema):
    model_config = ConfigDict(extra="forbid")

    email_notifications: bool = True
    push_notifications: bool = True
    sms_notifications: bool = False


class ProfileOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    avatar_url: str | None
    address: str | None
    notification_settings: NotificationSettings


class NotificationSettingsUpdate(Schema):
    """The switches to change; those left out keep their value. An unknown switch is a 422."""

    model_config = ConfigDict(extra="forbid")
    not_nullable = ("email_notifications", "push_notifications", "sms_notifications")

    email_notifications: bool | None = None
    push_notifications: bool | None = None
    sms_notifications: bool | None = None


_READ_ONLY = Field(None, exclude=True, description="Read-only: accepted and ignored")


class ProfileUpdate(Schema):
    """Any of the fields; the `GET /users/profile` body may be sent back as it is (its read-only
    fields are ignored). Any other field is a 422."""

    model_config = ConfigDict(extra="forbid")
    not_nullable = ("name", "notification_settings")

    name: Name | None = None
    avatar_url: Url | None = None
    address: Text | None = None
    notification_settings: NotificationSettingsUpdate | None = None
    id: Any = _READ_ONLY
    email: Any = _READ_ONLY
    created_at: Any = _READ_ONLY
    updated_at: Any = _READ_ONLY


class ProfileUpdated(Message):
    updated_at: datetime


# --- stores --------------------------------------------------------------------------------


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Taipei)") from None
    return name


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_known_zone)]
# "HH:MM" on a 24-hour clock; "24:00" ends a range at midnight.
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _ordered(opening: tuple[str, str]) -> tuple[str, str]:
    if opening[0] >= opening[1]:
        raise ValueError(
            f"{opening[0]}-{opening[1]}: a range must end after it starts (split one past midnight)"
        )
    return opening


Opening = Annotated[tuple[ClockTime, ClockTime], AfterValidator(_ordered)]
OpeningHours = Annotated[
    dict[Weekday, Annotated[list[Opening], Field(max_length=12)]],
    Field(
        description="Per weekday (mon ... sun), the store's local [open, close) ranges, e.g. "
        '{"mon": [["09:00", "12:00"], ["13:00", "18:00"]]}; a weekday left out is closed all day; '
        "null: always open",
    ),
]


class StoreDay(Schema):
    """A store's day (issue 14): its zone, hours, the pause switch and the end-of-day rule."""

    time_zone: TimeZone | None = Field(None, description="IANA name; by default the deployment's")
    opening_hours: OpeningHours | None = None
    accepting_bookings: bool | None = Field(None, description="false pauses new bookings")
    end_of_day_no_show: bool | None = Field(
        None,
        description="Whether bookings still waiting at the store's midnight become no_show; "
        "null: the deployment's KEEL_QUEUE_END_OF_DAY_NO_SHOW",
    )


class StoreCreate(StoreDay):
    model_config = ConfigDict(extra="forbid")

    accepting_bookings: bool = True

    name: Name
    description: Text | None = None
    avatar_url: Url | None = None
    address: Text | None = None
    contact_email: EmailStr | None = None
    default_service_minutes: ServiceMinutes | None = None


class StoreUpdate(StoreDay):
    model_config = ConfigDict(extra="forbid")
    not_nullable = ("name", "is_active", "time_zone", "accepting_bookings")

    name: Name | None = None
    description: Text | None = None
    avatar_url: Url | None = None
    address: Text | None = None
    contact_email: EmailStr | None = None
    is_active: bool | None = Field(None, description="false closes the queue to new bookings")
    default_service_minutes: ServiceMinutes | None = None


class StoreDayOut(BaseModel):
    time_zone: str
    opening_hours: dict[str, list[list[str]]] | None
    accepting_bookings: bool
    end_of_day_no_show: bool | None


class StoreCreated(Message, StoreDayOut):
    id: uuid.UUID
    name: str
    created_at: datetime


class StoreSummary(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    avatar_url: str | None
    address: str | None
    contact_email: str | None
    current_queue_count: int


class StoreOut(StoreSummary, StoreDayOut):
    owner_id: uuid.UUID
    is_active: bool
    default_service_minutes: float | None
    average_service_minutes: float | None = Field(
        description="Measured from the recent services; null until there are enough"
    )
    created_at: datetime
    updated_at: datetime


class StoreList(BaseModel):
    stores: list[StoreSummary]
    total: int
    page: int
    total_pages: int


# --- bookings ------------------------------------------------------------------------------


class BookingStatus(StrEnum):
    waiting = "waiting"
    serving = "serving"
    completed = "completed"
    cancelled = "cancelled"
    # Did not come when called, or still waiting when the store's day ended; recalled to waiting.
    no_show = "no_show"


class BookingCreate(Schema):
    store_id: uuid.UUID
    notes: Annotated[str, StringConstraints(max_length=500)] | None = None


class BookingCreated(Message):
    id: uuid.UUID
    queue_number: int
    your_position: int
    estimated_wait_time: int


class BookingStoreBrief(BaseModel):
    id: uuid.UUID
    name: str
    avatar_url: str | None
    address: str | None
    contact_email: str | None


class BookingOut(BaseModel):
    """A booking with its place in the line, as its customer or the store's owner reads it."""

    id: uuid.UUID
    store: BookingStoreBrief
    queue_number: int
    status: BookingStatus
    your_position: int | None = Field(description="1 = next in line; null unless waiting")
    estimated_wait_time: int | None = Field(description="Minutes until served; null unless waiting")
    notes: str | None
    created_at: datetime
    serving_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class MyBookings(BaseModel):
    bookings: list[BookingOut]
    total: int
    current_page: int


class BookingUserBrief(BaseModel):
    id: uuid.UUID
    name: str
    avatar_url: str | None
    email: str


class ReceivedBooking(BaseModel):
    id: uuid.UUID
    store_id: uuid.UUID
    user: BookingUserBrief
    queue_number: int
    status: BookingStatus
    notes: str | None
    created_at: datetime


class ReceivedBookings(BaseModel):
    bookings: list[ReceivedBooking]
    total: int
    current_page: int


class WalkInCreate(Schema):
    """A customer without the app, queued by the store's staff under the name they gave."""

    name: Name
    notes: Annotated[str, StringConstraints(max_length=500)] | None = None


class CalledCustomer(BaseModel):
    id: uuid.UUID | None = Field(description="null for a walk-in")
    name: str


class CalledBooking(BaseModel):
    id: uuid.UUID
    store_id: uuid.UUID
    queue_number: int
    status: BookingStatus
    customer: CalledCustomer
    notes: str | None
    updated_at: datetime


class StaffAdd(Schema):
    """The user to add, by email or by id (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    user_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "StaffAdd":
        if (self.email is None) == (self.user_id is None):
            raise ValueError("give either email or user_id")
        return self


class StaffMember(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str
    added_at: datetime


class StaffList(BaseModel):
    staff: list[StaffMember]


class StatusUpdate(Schema):
    status: BookingStatus


class StatusUpdated(Message):
    updated_at: datetime


class BookingCancelled(Message):
    cancelled_at: datetime


# --- the counter's board (the console) ---------------------------------------------------


class StoreRole(StrEnum):
    owner = "owner"
    staff = "staff"


class RunStore(BaseModel):
    """A store the user runs, as its owner or on its staff."""

    id: uuid.UUID
    name: str
    address: str | None
    avatar_url: str | None
    role: StoreRole
    is_active: bool
    accepting_bookings: bool
    time_zone: str
    current_queue_count: int = Field(description="Bookings waiting now")


class RunStores(BaseModel):
    stores: list[RunStore]


class BoardCustomer(BaseModel):
    id: uuid.UUID | None = Field(description="null for a walk-in")
    name: str = Field(description="The account's name, or the name a walk-in gave")
    email: str | None = Field(description="null for a walk-in")


class BoardEntry(BaseModel):
    id: uuid.UUID
    queue_day: date = Field(description="The store's local day the number was taken on")
    queue_number: int
    status: BookingStatus
    customer: BoardCustomer
    walk_in: bool
    notes: str | None
    created_at: datetime
    serving_at: datetime | None
    updated_at: datetime


class BoardWaiting(BoardEntry):
    position: int = Field(description="1 = next in line")
    estimated_wait_time: int = Field(description="Minutes until served")


class BoardStore(BaseModel):
    id: uuid.UUID
    name: str
    role: StoreRole
    is_active: bool
    accepting_bookings: bool
    today: date = Field(description="The store's local date now")
    minutes_per_person: float = Field(description="What each person ahead adds to a wait now")


class Board(BaseModel):
    store: BoardStore
    serving: list[BoardEntry] = Field(description="Being served, the longest first")
    waiting: list[BoardWaiting] = Field(description="The first `limit` in line order")
    waiting_total: int
    no_shows: list[BoardEntry] = Field(description="Today's no-shows, latest first: they may be recalled")


# --- chats ---------------------------------------------------------------------------------


class ChatStore(BaseModel):
    id: uuid.UUID
    name: str
    avatar_url: str | None


class ChatCustomer(BaseModel):
    id: uuid.UUID
    name: str
    avatar_url: str | None


class LastMessage(BaseModel):
    content: str
    created_at: datetime


class Chat(BaseModel):
    booking_id: uuid.UUID
    queue_number: int = Field(description="The booking's number, as the counter calls it")
    booking_status: BookingStatus
    store: ChatStore
    customer: ChatCustomer
    last_message: LastMessage | None = Field(description="null until the first message")
    unread_count: int


class ChatList(BaseModel):
    chats: list[Chat]


class Sender(BaseModel):
    id: uuid.UUID
    name: str
    avatar_url: str | None


class ChatMessage(BaseModel):
    id: uuid.UUID
    sender: Sender
    content: str
    is_read: bool
    created_at: datetime


class ChatMessages(BaseModel):
    messages: list[ChatMessage]
    total: int
    page: int
    total_pages: int


class MessageCreate(Schema):
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class MessageSent(Message):
    id: uuid.UUID
    sent_at: datetime


# --- notifications -------------------------------------------------------------------------


class NotificationType(StrEnum):
    booking_created = "booking_created"
    booking_cancelled = "booking_cancelled"
    queue_updated = "queue_updated"
    message_received = "message_received"
    # Called (serving) or served (completed): the customer's own booking moved.
    booking_status_changed = "booking_status_changed"


class NotificationOut(BaseModel):
    id: uuid.UUID
    type: NotificationType
    title: str
    content: str
    is_read: bool
    created_at: datetime


class NotificationList(BaseModel):
    notifications: list[NotificationOut]
    unread_count: int
    total: int
    page: int
    total_pages: int


class NotificationRead(Message):
    read_at: datetime


class NotificationsRead(Message):
    updated: int
    read_at: datetime


# --- uploads and events --------------------------------------------------------------------


class AvatarUploaded(Message):
    avatar_url: str
    uploaded_at: datetime


class EventOut(BaseModel):
    # The cursor just after this event: `me:12,store/<id>:40`.
    id: str
    event: str
    data: dict[str, Any]


class EventList(BaseModel):
    events: list[EventOut]
    # The cursor to ask with next (`since=`), past everything read, shown or not.
    last_id: str
