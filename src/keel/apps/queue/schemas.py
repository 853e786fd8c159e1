"""The queue API's bodies (spec 002), field names as the spec spells them."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from keel.core.params import Schema
from keel.core.schemas import Message

Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Url = Annotated[AnyHttpUrl, Field(max_length=2048)]


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


class ProfileUpdate(Schema):
    model_config = ConfigDict(extra="forbid")
    not_nullable = ("name", "notification_settings")

    name: Name | None = None
    avatar_url: Url | None = None
    address: Text | None = None
    notification_settings: NotificationSettings | None = None


class ProfileUpdated(Message):
    updated_at: datetime


# --- stores --------------------------------------------------------------------------------


class StoreCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Text | None = None
    avatar_url: Url | None = None
    address: Text | None = None
    contact_email: EmailStr | None = None


class StoreUpdate(Schema):
    model_config = ConfigDict(extra="forbid")
    not_nullable = ("name", "is_active")

    name: Name | None = None
    description: Text | None = None
    avatar_url: Url | None = None
    address: Text | None = None
    contact_email: EmailStr | None = None
    is_active: bool | None = Field(None, description="false closes the queue to new bookings")


class StoreCreated(Message):
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


class StoreOut(StoreSummary):
    owner_id: uuid.UUID
    is_active: bool
    average_service_minutes: float
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
    contact_email: str | None


class MyBooking(BaseModel):
    id: uuid.UUID
    store: BookingStoreBrief
    queue_number: int
    status: BookingStatus
    notes: str | None
    created_at: datetime


class MyBookings(BaseModel):
    bookings: list[MyBooking]
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


class StatusUpdate(Schema):
    status: BookingStatus


class StatusUpdated(Message):
    updated_at: datetime


class BookingCancelled(Message):
    cancelled_at: datetime


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
    store: ChatStore
    customer: ChatCustomer
    last_message: LastMessage
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
