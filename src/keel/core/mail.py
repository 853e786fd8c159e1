"""Mail for every app: each message is recorded in the app's outbox table within the request's
transaction, and leaves only once that transaction has committed.

With `KEEL_SMTP_URL` set, the message goes to the relay (aiosmtplib) and its row is marked
`sent_at`, or gets the `error` when the relay refused it; either way the client's request
stands. With no relay the message stays in the outbox and is logged (its body only in
development, where the developer needs the code it carries).

Delivery runs in a task started after the commit rather than before the response: an SMTP
conversation takes from milliseconds to seconds, and an answer that waited for it would tell a
caller whether mail was sent (for a password reset: whether the account exists). `drain()`
awaits the deliveries still under way, for a shutdown hook or a test.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from fastapi import Request
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.db import Database, after_commit, request_database, utcnow
from keel.core.mail_models import OutboxMixin
from keel.settings import Settings

log = logging.getLogger("keel.mail")

SMTP_TIMEOUT_SECONDS = 10.0
_ERROR_LENGTH = 2000

# Deliveries under way; a task only weakly referenced by the loop could be collected mid-send.
_deliveries: set[asyncio.Task[None]] = set()


@dataclass(frozen=True, slots=True)
class Relay:
    hostname: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool


@lru_cache(maxsize=8)
def parse_smtp_url(url: str) -> Relay:
    """smtp://user:pass@host:port (STARTTLS when the server offers it) or smtps:// (TLS from the
    first byte); user and password are percent-decoded."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"not an SMTP URL (smtp://host:port or smtps://host:port): {parts.scheme}://...")
    implicit_tls = parts.scheme == "smtps"
    return Relay(
        hostname=parts.hostname,
        port=parts.port or (465 if implicit_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit_tls,
    )


class Mailer:
    """One request's mail for one app. Apps get it through a typed dependency:
    `Mail = Annotated[Mailer, Depends(mailer_dependency(MailOutbox))]`."""

    def __init__(self, settings: Settings, outbox: type[OutboxMixin], *, request: Request):
        self.settings = settings
        self.outbox: Any = outbox
        self.request = request

    async def send(self, session: AsyncSession, *, to: str, subject: str, body: str) -> int:
        """Record the message in the caller's transaction; it leaves after the commit, and never
        when the request fails. Returns the outbox row's id."""
        row = self.outbox(recipient=to, subject=subject, body=body, created_at=utcnow())
        session.add(row)
        await session.flush()
        message = self._message(to, subject, body)
        database = request_database(self.request)
        after_commit(self.request, lambda: self._after_commit(database, row.id, message))
        return row.id

    def _message(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain="keel.local")
        message.set_content(body)
        return message

    async def _after_commit(self, database: Database, row_id: int, message: EmailMessage) -> None:
        if self.settings.smtp_url is None:
            self._log_kept(row_id, message)
            return
        task = asyncio.create_task(self._deliver(database, row_id, message))
        _deliveries.add(task)
        task.add_done_callback(_deliveries.discard)

    def _log_kept(self, row_id: int, message: EmailMessage) -> None:
        fields: dict[str, Any] = {
            "outbox_id": row_id,
            "recipient": message["To"],
            "subject": message["Subject"],
        }
        # The body may carry a secret (a reset code): only a developer's own console sees it.
        if self.settings.env == "development":
            fields["body"] = message.get_content()
        log.info("mail kept in the outbox (no SMTP relay set)", extra=fields)

    async def _deliver(self, database: Database, row_id: int, message: EmailMessage) -> None:
        """Hand the message to the relay and record the outcome; never raises."""
        assert self.settings.smtp_url is not None
        try:
            relay = parse_smtp_url(self.settings.smtp_url)
            await aiosmtplib.send(
                message,
                hostname=relay.hostname,
                port=relay.port,
                username=relay.username,
                password=relay.password,
                use_tls=relay.implicit_tls,
                start_tls=False if relay.implicit_tls else None,  # None: when the server offers it
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"[:_ERROR_LENGTH]
            log.warning(
                "mail delivery failed",
                extra={"outbox_id": row_id, "recipient": message["To"], "error": detail},
            )
            await self._record(database, row_id, error=detail)
            return
        log.info("mail sent", extra={"outbox_id": row_id, "recipient": message["To"]})
        await self._record(database, row_id, sent_at=utcnow())

    async def _record(self, database: Database, row_id: int, **values: Any) -> None:
        outbox = self.outbox
        try:
            # One statement, atomic alone: autocommit, outside any request's transaction.
            await database.autocommit.execute(update(outbox).where(outbox.id == row_id).values(**values))
        except Exception:
            log.exception("could not record a mail delivery in the outbox", extra={"outbox_id": row_id})


def mailer_dependency(outbox: type[OutboxMixin]) -> Callable[[Request], Awaitable[Mailer]]:
    """The dependency that gives a route its app's `Mailer` (routes need a TransactionalRoute)."""

    async def request_mailer(request: Request) -> Mailer:
        return Mailer(request.app.state.settings, outbox, request=request)

    return request_mailer


async def drain() -> None:
    """Wait for the deliveries under way (at shutdown, or in a test before it reads the mail)."""
    loop = asyncio.get_running_loop()
    while pending := [task for task in _deliveries if not task.done() and task.get_loop() is loop]:
        await asyncio.gather(*pending, return_exceptions=True)
