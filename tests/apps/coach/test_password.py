"""Password reset by a mailed code and password change, through the API; the code is read from
the mail outbox (no relay is set, so the message waits there)."""

import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from keel.apps.coach.models import MailOutbox, PasswordResetCode
from keel.core.db import Database, utcnow
from tests.apps.coach import builders
from tests.apps.coach.builders import PASSWORD, Member

REQUEST = "/api/v1/auth/password/request-reset"
RESET = "/api/v1/auth/password/reset"
CHANGE = "/api/v1/auth/password/change"
NEW_PASSWORD = "a-brand-new-passphrase"
INVALID = "Invalid or expired code"


async def outbox(database: Database) -> list[Any]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(select(MailOutbox.__table__).order_by(MailOutbox.id))).all())


async def mailed_code(database: Database, email: str) -> str:
    """The code in the latest message to `email`."""
    [*_, message] = [row for row in await outbox(database) if row.recipient == email]
    match = re.search(r"\b(\d{6})\b", message.body)
    assert match, message.body
    return match.group(1)


async def codes_of(database: Database, user_id: int) -> list[Any]:
    async with database.engine.connect() as connection:
        statement = select(PasswordResetCode.__table__).where(PasswordResetCode.user_id == user_id)
        return list((await connection.execute(statement.order_by(PasswordResetCode.id))).all())


async def reset(
    client: httpx.AsyncClient, email: str, code: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(RESET, json={"email": email, "code": code, "new_password": password})


async def login(client: httpx.AsyncClient, email: str, password: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password, **extra})


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


async def test_the_mailed_code_sets_a_new_password_and_ends_every_session(
    coach: httpx.AsyncClient, coach_database: Database, member: Member
) -> None:
    second = (await login(coach, member.email, PASSWORD, device="Pixel 9")).json()

    requested = await coach.post(REQUEST, json={"email": member.email})
    assert requested.status_code == 202
    assert requested.json() == {
        "message": "If an account exists for this email, a reset code has been sent to it"
    }
    [mail] = await outbox(coach_database)
    assert (mail.recipient, mail.subject) == (member.email, "Your keel coach password reset code")
    code = await mailed_code(coach_database, member.email)
    [stored] = await codes_of(coach_database, member.id)
    assert code not in stored.code_hash and re.fullmatch(r"[0-9a-f]{64}", stored.code_hash)
    assert stored.expires_at - stored.created_at == timedelta(minutes=15)

    done = await reset(coach, member.email, code)
    assert done.status_code == 200, done.text
    assert done.json() == {"message": "Password has been reset"}
    assert (await login(coach, member.email, PASSWORD)).status_code == 401
    assert (await login(coach, member.email, NEW_PASSWORD)).status_code == 200
    # Every session is over: its refresh token, and its access token before it expires.
    for refresh_token in (member.refresh_token, second["refresh_token"]):
        assert (await refresh(coach, refresh_token)).status_code == 401
    for access_token in (member.access_token, second["access_token"]):
        me = await coach.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token}"})
        assert me.status_code == 401
    # A code works once.
    again = await reset(coach, member.email, code, "yet-another-password")
    assert (again.status_code, again.json()["detail"]) == (400, INVALID)


async def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    coach: httpx.AsyncClient, coach_database: Database, member: Member
) -> None:
    unknown = await coach.post(REQUEST, json={"email": "nobody@example.com"})
    known = await coach.post(REQUEST, json={"email": member.email})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert [row.recipient for row in await outbox(coach_database)] == [member.email]
    # Resetting an unknown account answers as a wrong code does.
    nobody = await reset(coach, "nobody@example.com", "123456")
    assert (nobody.status_code, nobody.json()["detail"]) == (400, INVALID)


async def test_wrong_codes_count_and_after_five_even_the_right_one_fails(
    coach: httpx.AsyncClient, coach_database: Database, member: Member
) -> None:
    await coach.post(REQUEST, json={"email": member.email})
    code = await mailed_code(coach_database, member.email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for attempt in range(1, 6):
        response = await reset(coach, member.email, wrong)
        assert (response.status_code, response.json()["detail"]) == (400, INVALID)
        [stored] = await codes_of(coach_database, member.id)
        assert stored.attempts == attempt  # committed although the request failed
    sixth = await reset(coach, member.email, code)
    assert sixth.status_code == 400
    assert sixth.json()["detail"] == "Too many attempts with this code; request a new one"
    assert (await login(coach, member.email, PASSWORD)).status_code == 200


async def test_an_expired_code_is_refused(
    coach: httpx.AsyncClient, coach_database: Database, member: Member
) -> None:
    await coach.post(REQUEST, json={"email": member.email})
    async with coach_database.engine.begin() as connection:
        await connection.execute(
            update(PasswordResetCode)
            .where(PasswordResetCode.user_id == member.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await reset(coach, member.email, await mailed_code(coach_database, member.email))
    assert (response.status_code, response.json()["detail"]) == (400, INVALID)
    assert (await login(coach, member.email, PASSWORD)).status_code == 200


async def test_the_new_password_follows_the_registration_rules(
    coach: httpx.AsyncClient, coach_database: Database, member: Member
) -> None:
    await coach.post(REQUEST, json={"email": member.email})
    code = await mailed_code(coach_database, member.email)
    short = await reset(coach, member.email, code, "short")
    assert short.status_code == 422
    assert short.json()["detail"][0]["loc"] == ["body", "new_password"]
    assert (await reset(coach, member.email, "12345")).status_code == 422  # not six digits
    assert (await coach.post(REQUEST, json={"email": "not-an-email"})).status_code == 422
    # A refused body is not a wrong try: the code still works.
    assert (await reset(coach, member.email, code)).status_code == 200


async def test_changing_the_password_keeps_this_session_and_ends_the_others(
    coach: httpx.AsyncClient, member: Member
) -> None:
    other = (await login(coach, member.email, PASSWORD, device="Pixel 9")).json()
    changed = await coach.post(
        CHANGE,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=member.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"message": "Password has been changed"}

    assert (await coach.get("/api/v1/me", headers=member.headers)).status_code == 200
    sessions = (await coach.get("/api/v1/me/sessions", headers=member.headers)).json()
    assert [s["current"] for s in sessions] == [True]
    assert (await refresh(coach, member.refresh_token)).status_code == 200
    assert (await refresh(coach, other["refresh_token"])).status_code == 401
    theirs = await coach.get("/api/v1/me", headers={"Authorization": f"Bearer {other['access_token']}"})
    assert theirs.status_code == 401
    assert (await login(coach, member.email, PASSWORD)).status_code == 401
    assert (await login(coach, member.email, NEW_PASSWORD)).status_code == 200


async def test_a_wrong_current_password_is_403_and_changes_nothing(
    coach: httpx.AsyncClient, member: Member
) -> None:
    other = (await login(coach, member.email, PASSWORD)).json()
    wrong = await coach.post(
        CHANGE,
        json={"current_password": "not-the-password", "new_password": NEW_PASSWORD},
        headers=member.headers,
    )
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "Incorrect password"
    assert (await login(coach, member.email, PASSWORD)).status_code == 200
    assert (await refresh(coach, other["refresh_token"])).status_code == 200


async def test_password_guesses_are_rate_limited_per_user(coach: httpx.AsyncClient, member: Member) -> None:
    guess = {"current_password": "not-the-password", "new_password": NEW_PASSWORD}
    for _ in range(5):
        assert (await coach.post(CHANGE, json=guess, headers=member.headers)).status_code == 403
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    limited = await coach.post(CHANGE, json=right, headers=member.headers)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert (await login(coach, member.email, PASSWORD)).status_code == 200
    # Another user's bucket is their own.
    other = await builders.member(coach)
    assert (await coach.post(CHANGE, json=right, headers=other.headers)).status_code == 200


async def test_changing_needs_a_signed_in_user_and_a_valid_new_password(
    coach: httpx.AsyncClient, member: Member
) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (await coach.post(CHANGE, json=body)).status_code == 401
    short = await coach.post(
        CHANGE, json={"current_password": PASSWORD, "new_password": "short"}, headers=member.headers
    )
    assert short.status_code == 422
    assert short.json()["detail"][0]["loc"] == ["body", "new_password"]
    assert (await login(coach, member.email, PASSWORD)).status_code == 200


async def test_a_change_voids_the_reset_code_asked_for_before_it(
    coach: httpx.AsyncClient, coach_database: Database, member: Member
) -> None:
    await coach.post(REQUEST, json={"email": member.email})
    code = await mailed_code(coach_database, member.email)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (await coach.post(CHANGE, json=body, headers=member.headers)).status_code == 200
    late = await reset(coach, member.email, code, "yet-another-password")
    assert (late.status_code, late.json()["detail"]) == (400, INVALID)
    assert (await login(coach, member.email, NEW_PASSWORD)).status_code == 200
