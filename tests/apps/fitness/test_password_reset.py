"""Password reset through the API, with the code read from the mail a real SMTP server received."""

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from keel.apps.fitness.models import Base, MailOutbox, PasswordResetCode, User, UserStat
from keel.core import mail
from keel.core.db import Database, utcnow
from keel.server import build_server
from keel.settings import Settings
from tests.apps.fitness import builders
from tests.apps.fitness.builders import PASSWORD, Athlete
from tests.core.test_mail import SmtpSink, smtp_sink
from tests.databases import empty_tables
from tests.serving import free_port

REQUEST = "/api/v1/auth/password/request-reset"
RESET = "/api/v1/auth/password/reset"
NEW_PASSWORD = "a-brand-new-passphrase"
INVALID = {"detail": "Invalid or expired code"}


async def _client(database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    server = build_server(settings, only="fitness", databases={"fitness": database})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://fitness.test"
    ) as client:
        yield client
    await mail.drain()
    await empty_tables(database, Base.metadata)


@pytest.fixture
def sink() -> Any:
    with smtp_sink() as running:
        yield running


@pytest.fixture
async def mailing(
    fitness_database: Database, settings: Settings, sink: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    """The fitness API with an SMTP relay: the local server `sink`."""
    async for client in _client(fitness_database, settings.model_copy(update={"smtp_url": sink.url})):
        yield client


async def request_code(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post(REQUEST, json={"email": email})
    await mail.drain()  # delivery runs after the response: wait for it before reading the mail
    return response


def code_in(sink: SmtpSink, email: str) -> str:
    """The code in the latest message to `email`."""
    [*_, message] = [m for m in sink.messages if m["To"] == email]
    match = re.search(r"\b(\d{6})\b", message.get_content())
    assert match, message.get_content()
    return match.group(1)


async def reset(
    client: httpx.AsyncClient, email: str, code: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(RESET, json={"email": email, "code": code, "new_password": password})


async def codes_of(database: Database, user_id: int) -> list[Any]:
    async with database.engine.connect() as connection:
        statement = select(PasswordResetCode.__table__).where(PasswordResetCode.user_id == user_id)
        return list((await connection.execute(statement.order_by(PasswordResetCode.id))).all())


async def age_codes(database: Database, user_id: int, by: timedelta) -> None:
    """Make every code of the user look issued `by` ago, as if that time had passed."""
    async with database.engine.begin() as connection:
        await connection.execute(
            update(PasswordResetCode)
            .where(PasswordResetCode.user_id == user_id)
            .values(created_at=utcnow() - by)
        )


async def test_the_mailed_code_sets_a_new_password_and_signs_out_every_device(
    mailing: httpx.AsyncClient, fitness_database: Database, sink: SmtpSink
) -> None:
    user = await builders.athlete(mailing)
    second_login = (await builders.login(mailing, user.email)).json()["refresh_token"]

    response = await request_code(mailing, user.email)
    assert response.status_code == 202
    code = code_in(sink, user.email)
    assert sink.messages[-1]["Subject"] == "Your keel fitness password reset code"
    [stored] = await codes_of(fitness_database, user.id)
    assert code not in stored.code_hash and re.fullmatch(r"[0-9a-f]{64}", stored.code_hash)
    assert stored.expires_at - stored.created_at == timedelta(minutes=15)

    done = await reset(mailing, user.email, code)
    assert done.status_code == 200, done.text
    assert done.json() == {"message": "Password has been reset"}
    assert (await builders.login(mailing, user.email)).status_code == 401
    assert (await builders.login(mailing, user.email, NEW_PASSWORD)).status_code == 200
    for refresh_token in (user.refresh_token, second_login):
        refreshed = await mailing.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
        assert refreshed.status_code == 401
    # A code works once.
    assert (await reset(mailing, user.email, code, "yet-another-password")).json() == INVALID


async def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    mailing: httpx.AsyncClient, fitness_database: Database, sink: SmtpSink
) -> None:
    user = await builders.athlete(mailing)
    unknown = await request_code(mailing, "nobody@example.com")
    known = await request_code(mailing, user.email)
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert [m["To"] for m in sink.messages] == [user.email]
    assert [row.recipient for row in await outbox_rows(fitness_database)] == [user.email]
    # Resetting an unknown account answers as a wrong code does.
    assert (await reset(mailing, "nobody@example.com", "123456")).json() == INVALID


async def test_an_account_made_by_sso_gets_a_code_and_can_set_a_password(
    mailing: httpx.AsyncClient, fitness_database: Database, sink: SmtpSink
) -> None:
    async with fitness_database.sessionmaker() as session:
        user = User(email="sso-only@example.com", display_name="Via Apple", hashed_password=None)
        session.add(user)
        await session.flush()
        session.add(UserStat(user_id=user.id))
        await session.commit()
    assert (await request_code(mailing, "sso-only@example.com")).status_code == 202
    assert (
        await reset(mailing, "sso-only@example.com", code_in(sink, "sso-only@example.com"))
    ).status_code == 200
    assert (await builders.login(mailing, "sso-only@example.com", NEW_PASSWORD)).status_code == 200


async def test_wrong_codes_count_and_after_five_even_the_right_one_fails(
    mailing: httpx.AsyncClient, fitness_database: Database, sink: SmtpSink
) -> None:
    user = await builders.athlete(mailing)
    await request_code(mailing, user.email)
    code = code_in(sink, user.email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for attempt in range(1, 6):
        response = await reset(mailing, user.email, wrong)
        assert response.status_code == 400
        assert response.json() == INVALID
        [stored] = await codes_of(fitness_database, user.id)
        assert stored.attempts == attempt  # committed although the request failed
    sixth = await reset(mailing, user.email, code)
    assert sixth.status_code == 400
    assert "too many attempts" in sixth.json()["detail"].lower()
    assert (await builders.login(mailing, user.email, PASSWORD)).status_code == 200


async def test_an_expired_code_is_refused(
    mailing: httpx.AsyncClient, fitness_database: Database, sink: SmtpSink
) -> None:
    user = await builders.athlete(mailing)
    await request_code(mailing, user.email)
    async with fitness_database.engine.begin() as connection:
        await connection.execute(
            update(PasswordResetCode)
            .where(PasswordResetCode.user_id == user.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await reset(mailing, user.email, code_in(sink, user.email))
    assert response.status_code == 400
    assert response.json() == INVALID
    assert (await builders.login(mailing, user.email, PASSWORD)).status_code == 200


async def test_requests_are_throttled_silently_and_a_new_code_voids_the_last(
    mailing: httpx.AsyncClient, fitness_database: Database, sink: SmtpSink
) -> None:
    user = await builders.athlete(mailing)
    answers = [await request_code(mailing, user.email)]
    first_code = code_in(sink, user.email)
    answers.append(await request_code(mailing, user.email))  # within the minute: nothing sent
    assert len(sink.messages) == 1
    for sent in (2, 3):
        await age_codes(fitness_database, user.id, timedelta(seconds=61))
        answers.append(await request_code(mailing, user.email))
        assert len(sink.messages) == sent
    await age_codes(fitness_database, user.id, timedelta(seconds=61))
    answers.append(await request_code(mailing, user.email))  # a 4th code within 15 minutes
    assert len(sink.messages) == 3
    assert len(await codes_of(fitness_database, user.id)) == 3
    assert {(a.status_code, a.text) for a in answers} == {(answers[0].status_code, answers[0].text)}
    # Each new code voided the ones before it; only the latest counts.
    *earlier, latest = await codes_of(fitness_database, user.id)
    assert all(code.expires_at <= utcnow() < latest.expires_at for code in earlier)
    assert (await reset(mailing, user.email, first_code)).json() == INVALID
    # Once the window has passed, codes come again.
    await age_codes(fitness_database, user.id, timedelta(minutes=16))
    await request_code(mailing, user.email)
    assert len(sink.messages) == 4
    assert (await reset(mailing, user.email, code_in(sink, user.email))).status_code == 200


async def test_without_a_relay_the_mail_waits_in_the_outbox(
    fitness: httpx.AsyncClient, fitness_database: Database, athlete: Athlete
) -> None:
    assert (await request_code(fitness, athlete.email)).status_code == 202
    [row] = await outbox_rows(fitness_database)
    assert (row.recipient, row.sent_at, row.error) == (athlete.email, None, None)
    match = re.search(r"\b(\d{6})\b", row.body)
    assert match
    assert (await reset(fitness, athlete.email, match.group(1))).status_code == 200


async def test_a_relay_that_is_down_does_not_fail_the_request(
    fitness_database: Database, settings: Settings
) -> None:
    down = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{free_port()}"})
    async for client in _client(fitness_database, down):
        user = await builders.athlete(client)
        response = await request_code(client, user.email)
        assert response.status_code == 202
        [row] = await outbox_rows(fitness_database)
        assert row.sent_at is None
        assert row.error


async def outbox_rows(database: Database) -> list[Any]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(select(MailOutbox.__table__).order_by(MailOutbox.id))).all())
