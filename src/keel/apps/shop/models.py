"""The shop's tables (spec 003, section 3)."""

import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from keel.core.db import utcnow
from keel.core.idempotency_models import IdempotencyKeyMixin
from keel.core.models import TableBase
from keel.core.security.models import RefreshTokenMixin, RevokedTokenMixin
from keel.core.sweeps import SweepLeaseMixin


class Base(TableBase, DeclarativeBase):
    """Every shop table."""


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    # The username NFKC-normalised and case-folded: what uniqueness compares, in any script
    # ("Ｍｅｉ" and "mei" are one name).
    username_key: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    default_shipping_address: Mapped[dict[str, Any] | None]
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)

    @validates("username")
    def _keep_key(self, _: str, username: str) -> str:
        self.username_key = username_key(username)
        return username


def username_key(username: str) -> str:
    return unicodedata.normalize("NFKC", username).casefold()


class RefreshToken(RefreshTokenMixin, Base):
    pass


class RevokedToken(RevokedTokenMixin, Base):
    pass


class Category(TimestampMixin, Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class Product(TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (CheckConstraint("stock >= 0", name="stock_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    stock: Mapped[int] = mapped_column(default=0, server_default="0")
    image_url: Mapped[str | None] = mapped_column(String(2048))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    # Products that were ordered are archived rather than deleted, so order history keeps them.
    deleted_at: Mapped[datetime | None]

    category: Mapped[Category | None] = relationship(lazy="raise")


# BIGINT: TiDB's AUTO_RANDOM keys are large (migration 0006); SQLite's INTEGER is 64-bit already.
OrderId = BigInteger().with_variant(Integer(), "sqlite")


class Order(TimestampMixin, Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(OrderId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Wider than a price (spec: DECIMAL(10,2)): 1,000 units of an expensive product must fit.
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(50), index=True)
    shipping_address: Mapped[dict[str, Any] | None]
    payment_method: Mapped[str | None] = mapped_column(String(100))
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # An order still pending_payment at this time is cancelled and its stock returned.
    expires_at: Mapped[datetime | None]
    # The payment provider's reference for the approved charge; the last refusal's reason.
    payment_reference: Mapped[str | None] = mapped_column(String(255))
    payment_error: Mapped[str | None] = mapped_column(String(500))
    # Cancelling a paid order records the refund owed; `cancel_reason`: buyer, admin, expired.
    refunded_at: Mapped[datetime | None]
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    cancel_reason: Mapped[str | None] = mapped_column(String(32))

    items: Mapped[list["OrderItem"]] = relationship(lazy="raise", order_by="OrderItem.id")


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(OrderId, ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    # The name too is kept as it was at purchase: the receipt must not change with the catalogue.
    product_name: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int]
    price_at_purchase: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class PaymentAttempt(Base):
    """A charge asked of the payment provider (services/payments.py). `reference` is its
    idempotency reference: a charge whose answer never came (`outcome` empty) is asked again
    with it, so one that went through is found rather than taken twice."""

    __tablename__ = "payment_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(OrderId, ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # approved or refused once the provider answered; the provider's charge id or its reason.
    outcome: Mapped[str | None] = mapped_column(String(16))
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    answered_at: Mapped[datetime | None]


Index("ix_orders_user_id_created_at", Order.user_id, Order.created_at)
# The back office's list of every customer's orders, newest first, a page at a time.
Index("ix_orders_created_at", Order.created_at, Order.id)
# The unpaid-order sweep finds the lapsed reservations by this.
Index("ix_orders_status_expires_at", Order.status, Order.expires_at)


class IdempotencyKey(IdempotencyKeyMixin, Base):
    pass


class SweepLease(SweepLeaseMixin, Base):
    pass


# Retention prunes by these columns (core/retention.py).
Index("ix_refresh_tokens_expires_at", RefreshToken.expires_at)
