"""The outbox table an app with mail includes in its own database (`class MailOutbox(OutboxMixin,
Base)`): every message is recorded, and marked sent once an SMTP relay took it."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column


class OutboxMixin:
    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    # Retention ages rows by it (core/retention.py).
    created_at: Mapped[datetime] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
