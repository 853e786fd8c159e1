"""The shop's request and response bodies, named as spec 003 section 4 names them."""

import unicodedata
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    StringConstraints,
)

from keel.core.params import MAX_INT_ID, Schema, UtcDatetime
from keel.core.schemas import ORM
from keel.core.security.schemas import TokenPair

# Money is Decimal inside; on the wire it is a JSON number, as the spec's `price: float` says.
# Two decimal places print back exactly as they were stored.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=10, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]


def _nfkc(value: object) -> object:
    # Before the length and the pattern are checked, so both judge the name as stored:
    # fullwidth "Ｍｅｉ" is "Mei", an ideographic space is a space (and stripped at the ends).
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


# Letters and digits of any script, and `_.-`, from two (小明, a common Chinese name): 張小明,
# Mei.Lin, 山田_太郎. Combining marks count
# as part of letters, as Devanagari and Thai write them (राहुल); spaces, emoji, punctuation and
# invisible characters do not. Stored NFKC; uniqueness compares `User.username_key`.
Username = Annotated[
    str,
    StringConstraints(min_length=2, max_length=50, pattern=r"^[\p{L}\p{M}\p{N}_.-]+$"),
    BeforeValidator(_nfkc),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^(https?://|/)\S+$")]


RowId = Annotated[int, Field(ge=1, le=MAX_INT_ID)]


# --- users ---------------------------------------------------------------------------------


class UserCreate(Schema):
    username: Username
    email: EmailStr
    password: Password


class UserLogin(Schema):
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class UserOut(ORM):
    id: int
    username: str
    email: str
    is_admin: bool = False


class RegisterOut(UserOut):
    """The spec's `UserOut & Message`: the user's fields and a message side by side, and the
    user again under `user` for clients that read it nested, as in the login answer."""

    user: UserOut
    message: str

    @classmethod
    def of(cls, user: UserOut, message: str) -> "RegisterOut":
        return cls(**user.model_dump(), user=user, message=message)


class Token(TokenPair):
    """The spec's login answer: the token pair, the user and a message."""

    user: UserOut
    message: str


class ShippingAddress(Schema):
    recipient: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32)] | None = None
    line1: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    line2: Annotated[str, StringConstraints(max_length=255)] | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    country: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=56)]


class UserProfile(ORM):
    id: int
    username: str
    email: str
    full_name: str | None
    phone: str | None
    default_shipping_address: ShippingAddress | None
    is_admin: bool
    created_at: datetime
    updated_at: datetime


class UserProfileUpdate(Schema):
    """Only these fields can be changed; email and role are not self-service."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)
    not_nullable = ("username",)

    username: Username | None = None
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = None
    # At least one digit; the column holds 32 characters.
    phone: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, min_length=3, max_length=32, pattern=r"^\+?[0-9 ()-]*[0-9][0-9 ()-]*$"
            ),
        ]
        | None
    ) = None
    default_shipping_address: ShippingAddress | None = None


# --- catalogue -----------------------------------------------------------------------------


class CategoryOut(ORM):
    id: int
    name: str
    description: str | None


class CategoryCreate(Schema):
    name: Name
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None


class CategoryUpdate(Schema):
    not_nullable = ("name",)

    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None


class ProductSort(StrEnum):
    price_asc = "price_asc"
    price_desc = "price_desc"
    name_asc = "name_asc"
    newest = "newest"


class ProductOut(ORM):
    id: int
    name: str
    price: Money
    image_url: str | None
    stock: int
    category_id: int | None


class BestsellerOut(ProductOut):
    total_sold: int


class ProductDetailOut(ProductOut):
    description: str | None
    category: CategoryOut | None
    created_at: datetime
    updated_at: datetime


class ProductCreate(Schema):
    name: Name
    description: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    price: Price
    stock: Annotated[int, Field(ge=0, le=2_000_000_000)] = 0
    image_url: Url | None = None
    category_id: RowId | None = None


class ProductUpdate(Schema):
    not_nullable = ("name", "price", "stock")

    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    price: Price | None = None
    stock: Annotated[int, Field(ge=0, le=2_000_000_000)] | None = None
    image_url: Url | None = None
    category_id: RowId | None = None


# --- orders --------------------------------------------------------------------------------


class OrderStatus(StrEnum):
    pending_payment = "pending_payment"
    # The payment provider has been asked and has not answered yet (services/payments.py).
    paying = "paying"
    paid = "paid"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"


class OrderItemCreate(Schema):
    product_id: RowId
    quantity: Annotated[int, Field(ge=1, le=1000)]


class OrderCreate(Schema):
    items: Annotated[list[OrderItemCreate], Field(min_length=1, max_length=100)]
    shipping_address: ShippingAddress
    payment_method: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class OrderItemOut(ORM):
    id: int
    product_id: int
    product_name: str
    quantity: int
    price_at_purchase: Money


class OrderOut(ORM):
    id: int
    user_id: int
    total_amount: Money
    status: OrderStatus
    shipping_address: ShippingAddress | None
    payment_method: str | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    expires_at: datetime | None
    payment_reference: str | None
    payment_error: str | None
    refunded_at: datetime | None
    refund_amount: Money | None
    cancel_reason: str | None
    items: list[OrderItemOut]


class OrderSummaryOut(BaseModel):
    id: int
    user_id: int
    total_amount: Money
    status: OrderStatus
    created_at: datetime
    item_count: int


def _pending_alias(value: object) -> object:
    return OrderStatus.pending_payment if value == "pending" else value


# The spec's word for an unpaid order is "pending"; the stored status is pending_payment.
OrderStatusFilter = Annotated[OrderStatus, BeforeValidator(_pending_alias)]


class OrderFilters(BaseModel):
    """`GET /api/orders`'s filters; `user_id` is the back office's (an admin's) alone."""

    user_id: RowId | None = None
    status: Annotated[
        OrderStatusFilter | None, Field(description="A status; `pending` is pending_payment")
    ] = None
    created_from: Annotated[UtcDatetime | None, Field(description="Created at or after (ISO 8601)")] = None
    created_to: Annotated[UtcDatetime | None, Field(description="Created before (ISO 8601)")] = None


class PaymentRequest(Schema):
    """Unset, the order's payment_method from checkout is charged."""

    payment_method: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None
    ) = None
