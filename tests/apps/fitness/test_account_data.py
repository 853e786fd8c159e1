"""Account export and deletion (App Store and Play rules): the export holds everything the
account does and nothing secret; deletion, confirmed with the password or a fresh provider
token, removes the user's data and no one else's, ends every token and frees the email."""

import time
import uuid
from datetime import timedelta

import httpx
import jwt
from sqlalchemy import func, select

from keel.apps.fitness.models import (
    IdempotencyKey,
    MailOutbox,
    PasswordResetCode,
    RefreshToken,
    SocialAccount,
    User,
    UserStat,
    WorkoutDay,
    WorkoutSession,
)
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.fitness import builders
from tests.apps.fitness.builders import PASSWORD, Athlete
from tests.apps.fitness.test_avatar import AVATAR, uploads
from tests.apps.fitness.test_sessions import DAY, upload, workout
from tests.apps.fitness.test_sso import SSO, Providers
from tests.apps.fitness.test_sso import client as client
from tests.apps.fitness.test_sso import providers as providers
from tests.core.test_jwks import provider as provider
from tests.images import png

ME = "/api/v1/users/me"
EXPORT = "/api/v1/users/me/export"
REFRESH = "/api/v1/auth/refresh"


async def delete_account(client: httpx.AsyncClient, athlete: Athlete, body: dict) -> httpx.Response:
    return await client.request("DELETE", ME, json=body, headers=athlete.headers)


async def rows_of(database: Database, user_id: int, email: str = "") -> dict[str, int]:
    """How many rows of each of the user's tables hold something of theirs."""
    counted = {
        "mail": select(func.count()).select_from(MailOutbox).where(MailOutbox.recipient == email),
        "users": select(func.count()).select_from(User).where(User.id == user_id),
        "stats": select(func.count()).select_from(UserStat).where(UserStat.user_id == user_id),
        "sessions": select(func.count()).select_from(WorkoutSession).where(WorkoutSession.user_id == user_id),
        "days": select(func.count()).select_from(WorkoutDay).where(WorkoutDay.user_id == user_id),
        "social": select(func.count()).select_from(SocialAccount).where(SocialAccount.user_id == user_id),
        "reset_codes": select(func.count())
        .select_from(PasswordResetCode)
        .where(PasswordResetCode.user_id == user_id),
        "refresh": select(func.count()).select_from(RefreshToken).where(RefreshToken.user_id == user_id),
        "keys": select(func.count())
        .select_from(IdempotencyKey)
        .where(IdempotencyKey.scope.startswith(f"user:{user_id}:")),
    }
    async with database.engine.connect() as connection:
        return {name: (await connection.execute(query)).scalar_one() for name, query in counted.items()}


async def test_the_export_holds_every_field_and_session_and_no_secret(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    first, second = workout(DAY + timedelta(days=1)), workout(DAY, device="bike")
    first["metrics_summary"] = {"avg_watts": 152.0, "avg_spm": 24.0}
    assert (await upload(fitness, athlete, first, second)).status_code == 201
    await fitness.patch(ME, json={"height_cm": 181.5, "timezone": "Europe/Paris"}, headers=athlete.headers)

    response = await fitness.get(EXPORT, headers=athlete.headers)
    assert response.status_code == 200, response.text
    export = response.json()
    assert set(export) == {"exported_at", "user", "stats", "social_accounts", "sessions"}
    user = export["user"]
    assert (user["id"], user["email"], user["height_cm"], user["timezone"]) == (
        athlete.id,
        athlete.email,
        181.5,
        "Europe/Paris",
    )
    assert {"user_uuid", "display_name", "gender", "is_active", "created_at", "updated_at"} <= set(user)
    assert "hashed_password" not in user and PASSWORD not in response.text
    assert export["stats"]["total_xp"] == 120
    assert export["social_accounts"] == []
    # Oldest first, each with its metrics and every point as uploaded.
    assert [s["client_session_id"] for s in export["sessions"]] == [
        second["client_session_id"],
        first["client_session_id"],
    ]
    stored = export["sessions"][1]
    assert stored["metrics_summary"] == first["metrics_summary"]
    assert stored["time_series_data"] == first["time_series_data"]
    assert len(stored["time_series_data"]) == 30

    someone = await builders.athlete(fitness)
    theirs = (await fitness.get(EXPORT, headers=someone.headers)).json()
    assert theirs["sessions"] == [] and theirs["user"]["id"] == someone.id
    assert (await fitness.get(EXPORT)).status_code == 401


async def test_deleting_with_the_password_removes_the_account_and_only_it(
    fitness: httpx.AsyncClient, fitness_database: Database, settings: Settings
) -> None:
    other, athlete = await builders.athlete(fitness), await builders.athlete(fitness)
    for person in (other, athlete):
        batch = [workout(DAY), workout(DAY + timedelta(days=1))]
        key = {"X-Idempotency-Key": "sync-1"}
        sent = await fitness.post(
            "/api/v1/sessions/batch_upload", json={"sessions": batch}, headers={**person.headers, **key}
        )
        assert sent.status_code == 201
    avatar = await fitness.post(
        AVATAR, files={"file": ("a.png", png(), "image/png")}, headers=athlete.headers
    )
    kept = await fitness.post(AVATAR, files={"file": ("b.png", png(), "image/png")}, headers=other.headers)
    assert avatar.status_code == kept.status_code == 200
    files = set(uploads(settings))
    assert avatar.json()["avatar_url"].rpartition("/")[2] in {path.name for path in files}
    second_login = (await builders.login(fitness, athlete.email)).json()
    reset = await fitness.post("/api/v1/auth/password/request-reset", json={"email": athlete.email})
    assert reset.status_code == 202
    before = await rows_of(fitness_database, athlete.id, athlete.email)
    assert before["social"] == 0 and min(v for k, v in before.items() if k != "social") >= 1, before

    response = await delete_account(fitness, athlete, {"password": PASSWORD})
    assert response.status_code == 204, response.text
    assert await rows_of(fitness_database, athlete.id, athlete.email) == dict.fromkeys(before, 0)
    # The avatar file went after the commit; the other user's stayed.
    assert {path.name for path in files - set(uploads(settings))} == {
        avatar.json()["avatar_url"].rpartition("/")[2]
    }
    # Every token of every device is dead.
    assert (await fitness.get(ME, headers=athlete.headers)).status_code == 401
    for refresh in (athlete.refresh_token, second_login["refresh_token"]):
        assert (await fitness.post(REFRESH, json={"refresh_token": refresh})).status_code == 401
    second = {"Authorization": f"Bearer {second_login['access_token']}"}
    assert (await fitness.get(ME, headers=second)).status_code == 401
    assert (await builders.login(fitness, athlete.email)).status_code == 401

    # The email is free; the old tokens do not sign into the new account (which SQLite may
    # give the same id: it reuses the highest rowid once it is deleted).
    again = await builders.register(fitness, email=athlete.email)
    assert again.status_code == 201, again.text
    assert (await fitness.get(ME, headers=athlete.headers)).status_code == 401
    # A token of the new id issued before the account was made (as the other device's was, a
    # second or more before) is refused too.
    now = int(time.time())
    older = {
        "sub": str(again.json()["user"]["id"]),
        "aud": "fitness",
        "iat": now - 2,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    earlier = {"Authorization": f"Bearer {jwt.encode(older, settings.secret_key, algorithm='HS256')}"}
    assert (await fitness.get(ME, headers=earlier)).status_code == 401
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert (await fitness.get(EXPORT, headers=fresh)).json()["sessions"] == []

    # The other user is untouched.
    theirs = (await fitness.get(EXPORT, headers=other.headers)).json()
    assert len(theirs["sessions"]) == 2 and theirs["stats"]["total_xp"] == 120
    assert theirs["user"]["avatar_url"] == kept.json()["avatar_url"]
    assert (await fitness.get(kept.json()["avatar_url"])).status_code == 200


async def test_a_shared_avatar_image_stays_for_the_other_user(
    fitness: httpx.AsyncClient, settings: Settings
) -> None:
    athlete, other = await builders.athlete(fitness), await builders.athlete(fitness)
    image = png()  # each png() is another image
    for person in (athlete, other):
        sent = await fitness.post(
            AVATAR, files={"file": ("a.png", image, "image/png")}, headers=person.headers
        )
        assert sent.status_code == 200
    files = uploads(settings)
    assert (await delete_account(fitness, athlete, {"password": PASSWORD})).status_code == 204
    assert uploads(settings) == files
    assert (await fitness.get(sent.json()["avatar_url"])).status_code == 200


async def test_a_wrong_password_is_refused_and_deletes_nothing(
    fitness: httpx.AsyncClient, fitness_database: Database, athlete: Athlete
) -> None:
    assert (await upload(fitness, athlete, workout())).status_code == 201
    before = await rows_of(fitness_database, athlete.id)
    wrong = await delete_account(fitness, athlete, {"password": "not-the-password"})
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "Incorrect password"
    missing = await delete_account(fitness, athlete, {})
    assert missing.status_code == 422
    assert await rows_of(fitness_database, athlete.id) == before
    assert (await fitness.get(ME, headers=athlete.headers)).status_code == 200
    assert (await fitness.request("DELETE", ME, json={"password": PASSWORD})).status_code == 401


async def test_deletion_attempts_are_rate_limited(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    answers = [
        (await delete_account(fitness, athlete, {"password": f"guess-{n}"})).status_code for n in range(6)
    ]
    assert answers == [403] * 5 + [429]
    # The right password cannot get through the limit either: no guess is checked past it.
    limited = await delete_account(fitness, athlete, {"password": PASSWORD})
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert (await fitness.get(ME, headers=athlete.headers)).status_code == 200


async def test_an_account_without_password_deletes_with_a_fresh_provider_token(
    client: httpx.AsyncClient,
    providers: Providers,
    fitness_database: Database,
) -> None:
    uid = "google-deleting"
    signed = await client.post(f"{SSO}/google", json=providers.google(sub=uid))
    assert signed.status_code == 200, signed.text
    body = signed.json()
    person = Athlete(body["user"]["id"], body["user"]["email"], body["access_token"], body["refresh_token"])
    assert (await upload(client, person, workout())).status_code == 201
    linked = (await client.get(EXPORT, headers=person.headers)).json()["social_accounts"]
    assert [account["provider"] for account in linked] == ["google"]
    assert "provider_uid" not in linked[0]

    # A password does not confirm an account that has none; nor does a stale or someone
    # else's token, nor one of a provider the account is not linked to, nor a forged one (4
    # refusals: the 5th attempt is the last the rate limit allows).
    assert (await delete_account(client, person, {"password": "anything"})).status_code == 422
    hour_ago = int(time.time()) - 3600
    stale = providers.google(sub=uid, iat=hour_ago, exp=hour_ago + 7200)
    for token, provider_name in (
        (stale, "google"),
        (providers.google(), "google"),
        ({"id_token": "not-a-token"}, "google"),
    ):
        refused = await delete_account(client, person, {"provider": provider_name, **token})
        assert refused.status_code == 403, refused.text
    assert (await rows_of(fitness_database, person.id))["sessions"] == 1

    deleted = await delete_account(client, person, {"provider": "google", **providers.google(sub=uid)})
    assert deleted.status_code == 204, deleted.text
    assert set((await rows_of(fitness_database, person.id)).values()) == {0}
    assert (await client.get(ME, headers=person.headers)).status_code == 401
    # Signing in with Google again makes a new, empty account.
    back = await client.post(f"{SSO}/google", json=providers.google(sub=uid, email=person.email))
    assert back.status_code == 200 and back.json()["created"] is True
