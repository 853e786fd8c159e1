"""Token tables every app with accounts includes in its own database.

Each app declares `class RefreshToken(RefreshTokenMixin, Base)` and
`class RevokedToken(RevokedTokenMixin, Base)` (and, for the features it offers,
`Session(SessionMixin, Base)`, `PasswordResetCode(PasswordResetCodeMixin, Base)`); the user id
column takes the type of the app's own `users.id`.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from keel.core.db import utcnow


class RefreshTokenMixin:
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Every token issued by rotating one login shares its family; re-use of a rotated token
    # is taken as theft, and the whole family is revoked.
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    device: Mapped[str | None] = mapped_column(String(255))

    @declared_attr
    def user_id(cls) -> Mapped[Any]:
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class RevokedTokenMixin:
    """Access tokens signed out before they expire, by `jti`; rows can go once `expires_at` passes."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SessionMixin:
    """One signed-in device: a login and every refresh token rotated from it (its family, whose
    id is the session's). Apps that list and end sessions include
    `class Session(SessionMixin, Base)` and pass it to their `Authenticator`."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    @declared_attr
    def user_id(cls) -> Mapped[Any]:
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class PasswordResetCodeMixin:
    """A mailed password reset code (security/password_reset.py), kept only as a keyed hash.
    Apps that let people reset their password include
    `class PasswordResetCode(PasswordResetCodeMixin, Base)`."""

    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    # Retention ages rows by it (core/retention.py).
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @declared_attr
    def user_id(cls) -> Mapped[Any]:
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
