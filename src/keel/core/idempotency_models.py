"""The table behind `Idempotency-Key` handling, which an app includes in its own database
(`class IdempotencyKey(IdempotencyKeyMixin, Base)`)."""

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from keel.core.db import JSONColumn


class IdempotencyKeyMixin:
    __tablename__ = "idempotency_keys"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Whose key it is (the user, and the operation): two users' keys never meet.
    scope: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    # Null while the first request is still running; then the answer to replay.
    status_code: Mapped[int | None]
    response_body: Mapped[Any | None] = mapped_column(JSONColumn)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
