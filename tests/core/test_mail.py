"""The core's mail, through a small app on a real database and a real SMTP server (aiosmtpd):
recorded in the request's transaction, delivered only after the commit, outcomes on the row."""

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Annotated, Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import select

from keel.apps.fitness.models import MailOutbox
from keel.core import mail
from keel.core.db import Database, DbSession, TransactionalRoute, after_commit, utcnow
from keel.core.errors import BadRequest, install_error_handlers
from keel.core.mail import Mailer, mailer_dependency, parse_smtp_url
from keel.settings import Settings
from tests.serving import free_port

# --- helpers the password reset tests share ------------------------------------------------------


class SmtpSink:
    """A local SMTP server that keeps every message it is given."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


# --- a small app that sends mail --------------------------------------------------------------

Mail = Annotated[Mailer, Depends(mailer_dependency(MailOutbox))]
router = APIRouter(route_class=TransactionalRoute)
ran: list[str] = []


@router.post("/send")
async def send(session: DbSession, mail: Mail, fail: bool = False) -> dict[str, int]:
    outbox_id = await mail.send(session, to="ann@example.com", subject="Hello", body="The code is 123456")
    if fail:
        raise BadRequest("refused after the mail was recorded")
    return {"outbox_id": outbox_id}


@router.post("/callbacks")
async def callbacks(request: Request, session: DbSession) -> dict[str, str]:
    session.add(MailOutbox(recipient="bo@example.com", subject="Hi", body="", created_at=utcnow()))
    await session.flush()

    async def broken() -> None:
        raise RuntimeError("the relay exploded")

    async def fine() -> None:
        # Another connection sees the row: the callback runs after the commit, not before.
        rows = await outbox(request.app.state.database)
        ran.append(f"fine, {len(rows)} row")

    after_commit(request, broken)
    after_commit(request, fine)
    return {"status": "ok"}


@asynccontextmanager
async def client_for(database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    api = FastAPI()
    api.state.settings = settings
    api.state.database = database
    install_error_handlers(api)
    api.include_router(router)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://mail.test"
        ) as client:
            yield client
    finally:
        await mail.drain()
        async with database.engine.begin() as connection:
            await connection.execute(MailOutbox.__table__.delete())


async def outbox(database: Database) -> list[Any]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(select(MailOutbox.__table__).order_by(MailOutbox.id))).all())


# --- the tests --------------------------------------------------------------------------------


async def test_mail_leaves_after_the_commit_and_its_row_is_marked_sent(
    fitness_database: Database, settings: Settings, sink: SmtpSink
) -> None:
    async with client_for(fitness_database, settings.model_copy(update={"smtp_url": sink.url})) as client:
        response = await client.post("/send")
        assert response.status_code == 200, response.text
        await mail.drain()
        [message] = sink.messages
        assert message["To"] == "ann@example.com"
        assert message["Subject"] == "Hello"
        assert message["From"] == settings.mail_from
        assert message.get_content().strip() == "The code is 123456"
        [row] = await outbox(fitness_database)
        assert row.id == response.json()["outbox_id"]
        assert row.sent_at is not None and row.error is None
        assert row.body == "The code is 123456"


async def test_a_request_that_fails_sends_nothing_and_keeps_no_row(
    fitness_database: Database, settings: Settings, sink: SmtpSink
) -> None:
    async with client_for(fitness_database, settings.model_copy(update={"smtp_url": sink.url})) as client:
        response = await client.post("/send", params={"fail": True})
        assert response.status_code == 400
        await mail.drain()
        assert sink.messages == []
        assert await outbox(fitness_database) == []


async def test_without_a_relay_mail_stays_in_the_outbox_and_is_logged_without_its_body(
    fitness_database: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert settings.smtp_url is None and settings.env == "test"
    caplog.set_level(logging.INFO, logger="keel.mail")
    async with client_for(fitness_database, settings) as client:
        assert (await client.post("/send")).status_code == 200
        [row] = await outbox(fitness_database)
        assert row.sent_at is None and row.error is None
        [record] = [r for r in caplog.records if r.name == "keel.mail"]
        assert (record.recipient, record.subject, record.outbox_id) == ("ann@example.com", "Hello", row.id)
        assert not hasattr(record, "body")
        assert "123456" not in caplog.text


async def test_in_development_the_kept_mail_is_logged_with_its_body(
    fitness_database: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="keel.mail")
    async with client_for(fitness_database, settings.model_copy(update={"env": "development"})) as client:
        assert (await client.post("/send")).status_code == 200
        [record] = [r for r in caplog.records if r.name == "keel.mail"]
        assert "123456" in record.body


async def test_a_relay_that_is_down_leaves_the_error_on_the_row_and_the_request_stands(
    fitness_database: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"smtp://127.0.0.1:{free_port()}"
    async with client_for(fitness_database, settings.model_copy(update={"smtp_url": down})) as client:
        assert (await client.post("/send")).status_code == 200
        await mail.drain()
        [row] = await outbox(fitness_database)
        assert row.sent_at is None
        assert row.error and "SMTP" in row.error
        assert any(r.getMessage() == "mail delivery failed" for r in caplog.records)


async def test_after_commit_callbacks_see_the_commit_and_one_that_fails_is_only_logged(
    fitness_database: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ran.clear()
    async with client_for(fitness_database, settings) as client:
        response = await client.post("/callbacks")
    assert response.status_code == 200
    assert ran == ["fine, 1 row"]
    [failure] = [r for r in caplog.records if r.name == "keel.db"]
    assert failure.getMessage() == "after-commit callback failed"
    assert "the relay exploded" in str(failure.exc_info[1] if failure.exc_info else "")


def test_smtp_urls_are_read_with_their_defaults_and_escaped_credentials() -> None:
    plain = parse_smtp_url("smtp://relay.example.com")
    assert (plain.hostname, plain.port, plain.implicit_tls, plain.username) == (
        "relay.example.com",
        25,
        False,
        None,
    )
    secure = parse_smtp_url("smtps://me%40example.com:p%3Ass@mail.example.com")
    assert (secure.port, secure.implicit_tls) == (465, True)
    assert (secure.username, secure.password) == ("me@example.com", "p:ss")
    assert parse_smtp_url("smtp://u:p@127.0.0.1:2525").port == 2525
    with pytest.raises(ValueError, match="not an SMTP URL"):
        parse_smtp_url("http://example.com")
