"""Reminders pushed at the user's local time: push tokens, scheduling by the notification
settings, FCM HTTP v1 and the webhook against a local server, once a day with two workers."""

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update

from keel.apps.coach.models import Job
from keel.apps.coach.services.reminders import fire_at, next_occurrence
from keel.apps.coach.tasks import queue
from keel.core.db import Database, utcnow
from keel.core.jobs import Worker
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import Member
from tests.apps.coach.fake_push import ACCESS_TOKEN, PROJECT, FakePush, fake_push

NEW_YORK = ZoneInfo("America/New_York")
ONLY_REVIEW = {
    "review_reminder": True,
    "review_time": "21:30",
    "plan_reminder": False,
    "weekly_report": False,
}


@pytest.fixture
def pusher() -> Iterator[FakePush]:
    with fake_push() as fake:
        yield fake


@pytest.fixture(scope="module")
def service_account(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp_path_factory.mktemp("fcm") / "service-account.json"
    account = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "key-1",
        "private_key": pem,
        "client_email": "coach@coach-test.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(account))
    return path, key.public_key()


async def _register_token(
    coach: httpx.AsyncClient, who: Member, token: str, platform: str = "ios"
) -> httpx.Response:
    return await coach.post(
        "/api/v1/me/push-tokens", json={"token": token, "platform": platform}, headers=who.headers
    )


async def _tokens(coach: httpx.AsyncClient, who: Member) -> list[str]:
    response = await coach.get("/api/v1/me/push-tokens", headers=who.headers)
    assert response.status_code == 200
    return [item["token"] for item in response.json()]


async def _reminder_jobs(database: Database, user_id: int) -> list[Any]:
    async with database.sessionmaker() as session:
        jobs = (await session.scalars(select(Job).where(Job.kind == "reminder").order_by(Job.id))).all()
    return [job for job in jobs if job.payload["user_id"] == user_id]


async def _time_passes(database: Database) -> None:
    """The clock reaches every queued reminder's time."""
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Job).where(Job.kind == "reminder", Job.status == "queued").values(run_after=utcnow())
        )


async def test_a_device_registers_its_token_once_and_unregisters(
    coach: httpx.AsyncClient, member: Member
) -> None:
    created = await _register_token(coach, member, "fcm-token-1")
    assert created.status_code == 201, created.text
    assert created.json()["platform"] == "ios"
    again = await _register_token(coach, member, "fcm-token-1", "android")
    assert again.status_code == 200
    assert again.json()["platform"] == "android"
    assert await _tokens(coach, member) == ["fcm-token-1"]

    # The device signs in as someone else: the token is theirs now.
    other = await builders.member(coach)
    assert (await _register_token(coach, other, "fcm-token-1")).status_code == 201
    assert await _tokens(coach, member) == []
    assert await _tokens(coach, other) == ["fcm-token-1"]
    assert (
        await coach.delete("/api/v1/me/push-tokens/fcm-token-1", headers=member.headers)
    ).status_code == 404
    assert (
        await coach.delete("/api/v1/me/push-tokens/fcm-token-1", headers=other.headers)
    ).status_code == 204
    assert await _tokens(coach, other) == []
    assert (
        await coach.delete("/api/v1/me/push-tokens/fcm-token-1", headers=other.headers)
    ).status_code == 404

    for body in (
        {"token": "t", "platform": "symbian"},
        {"token": "", "platform": "ios"},
        {"platform": "ios"},
    ):
        refused = await coach.post("/api/v1/me/push-tokens", json=body, headers=member.headers)
        assert refused.status_code == 422, body
    assert (
        await coach.post("/api/v1/me/push-tokens", json={"token": "t", "platform": "ios"})
    ).status_code == 401


async def test_a_reminder_is_due_at_its_local_time(
    coach: httpx.AsyncClient, coach_database: Database
) -> None:
    who = await builders.member(coach, timezone="America/New_York")
    saved = await coach.put("/api/v1/settings/notifications", json=ONLY_REVIEW, headers=who.headers)
    assert saved.status_code == 200
    [job] = await _reminder_jobs(coach_database, who.id)
    day = dt.date.fromisoformat(job.payload["day"])
    assert job.payload["kind"] == "review" and job.payload["time"] == "21:30"
    expected = dt.datetime.combine(day, dt.time(21, 30), tzinfo=NEW_YORK).astimezone(dt.UTC)
    assert abs(job.run_after - expected) < dt.timedelta(seconds=5)
    assert expected > utcnow() and expected - utcnow() <= dt.timedelta(days=1)


def test_local_times_survive_dst_changes() -> None:
    # 2027-03-14: New York springs forward at 02:00 (EST -5 to EDT -4).
    assert fire_at(dt.date(2027, 3, 13), "21:30", NEW_YORK) == dt.datetime(2027, 3, 14, 2, 30, tzinfo=dt.UTC)
    assert fire_at(dt.date(2027, 3, 14), "21:30", NEW_YORK) == dt.datetime(2027, 3, 15, 1, 30, tzinfo=dt.UTC)
    # 02:30 does not exist that day: it fires as 03:30 EDT, once.
    assert fire_at(dt.date(2027, 3, 14), "02:30", NEW_YORK) == dt.datetime(2027, 3, 14, 7, 30, tzinfo=dt.UTC)
    # 2026-11-01 falls back at 02:00: 01:30 happens twice; the first one fires.
    assert fire_at(dt.date(2026, 11, 1), "01:30", NEW_YORK) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)
    # The day after a fired reminder, however late the job ran.
    late = dt.datetime(2027, 3, 15, 3, 0, tzinfo=dt.UTC)  # 23:00 EDT on the 14th
    assert next_occurrence(late, "21:30", NEW_YORK, after=dt.date(2027, 3, 14)) == dt.date(2027, 3, 15)
    assert next_occurrence(late, "07:30", NEW_YORK) == dt.date(2027, 3, 15)
    assert next_occurrence(late, "23:30", NEW_YORK) == dt.date(2027, 3, 14)


async def test_fcm_gets_a_signed_grant_and_the_message_and_stale_tokens_go(
    coach: httpx.AsyncClient,
    coach_database: Database,
    settings: Settings,
    pusher: FakePush,
    service_account: tuple[Path, Any],
) -> None:
    credentials, public_key = service_account
    fcm = settings.model_copy(
        update={
            "coach_fcm_project_id": PROJECT,
            "coach_fcm_credentials_file": credentials,
            "coach_fcm_base_url": pusher.url,
            "coach_fcm_token_uri": f"{pusher.url}/token",
        }
    )
    who = await builders.member(coach, timezone="Asia/Shanghai")
    await _register_token(coach, who, "phone-token")
    await _register_token(coach, who, "uninstalled-token", "android")
    await coach.put("/api/v1/settings/notifications", json=ONLY_REVIEW, headers=who.headers)
    await _time_passes(coach_database)
    await Worker(queue, coach_database, fcm).run_until_idle()

    [grant] = pusher.grants
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(grant["assertion"], public_key, algorithms=["RS256"], audience=f"{pusher.url}/token")
    assert claims["iss"] == "coach@coach-test.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert jwt.get_unverified_header(grant["assertion"])["kid"] == "key-1"

    assert {m["message"]["token"] for m in pusher.messages} == {"phone-token", "uninstalled-token"}
    assert set(pusher.authorizations) == {f"Bearer {ACCESS_TOKEN}"}
    message = pusher.messages[0]["message"]
    assert message["notification"]["title"] == "Time for your night review"
    assert message["data"]["kind"] == "review"
    assert await _tokens(coach, who) == ["phone-token", "uninstalled-token"]


async def test_an_unregistered_token_is_removed(
    coach: httpx.AsyncClient,
    coach_database: Database,
    settings: Settings,
    pusher: FakePush,
    service_account: tuple[Path, Any],
) -> None:
    credentials, _ = service_account
    fcm = settings.model_copy(
        update={
            "coach_fcm_project_id": PROJECT,
            "coach_fcm_credentials_file": credentials,
            "coach_fcm_base_url": pusher.url,
            "coach_fcm_token_uri": f"{pusher.url}/token",
        }
    )
    pusher.unregistered.add("uninstalled-token")
    who = await builders.member(coach)
    await _register_token(coach, who, "phone-token")
    await _register_token(coach, who, "uninstalled-token", "android")
    await coach.put("/api/v1/settings/notifications", json=ONLY_REVIEW, headers=who.headers)
    await _time_passes(coach_database)
    await Worker(queue, coach_database, fcm).run_until_idle()
    assert len(pusher.messages) == 2
    assert await _tokens(coach, who) == ["phone-token"]
    # The next day's reminder is waiting, once.
    queued = [job for job in await _reminder_jobs(coach_database, who.id) if job.status == "queued"]
    assert len(queued) == 1 and queued[0].run_after > utcnow() + dt.timedelta(hours=12)


async def test_a_reminder_fires_once_a_day_with_two_workers(
    coach: httpx.AsyncClient, coach_database: Database, settings: Settings, pusher: FakePush
) -> None:
    hook = settings.model_copy(update={"coach_push_webhook_url": f"{pusher.url}/hook"})
    who = await builders.member(coach)
    await _register_token(coach, who, "web-token", "web")
    # A device registered (the defaults: review and plan), then saved twice: three jobs for
    # today's review.
    for _ in range(2):
        await coach.put("/api/v1/settings/notifications", json=ONLY_REVIEW, headers=who.headers)
    kinds = [job.payload["kind"] for job in await _reminder_jobs(coach_database, who.id)]
    assert sorted(kinds) == ["plan", "review", "review", "review"]
    await _time_passes(coach_database)
    await asyncio.gather(
        Worker(queue, coach_database, hook).run_until_idle(),
        Worker(queue, coach_database, hook).run_until_idle(),
    )
    [sent] = pusher.hooks
    assert sent["user_id"] == who.id
    assert sent["devices"] == [{"token": "web-token", "platform": "web"}]
    assert sent["notification"]["title"] == "Time for your night review"
    # One chain goes on: one job for the next day.
    queued = [job for job in await _reminder_jobs(coach_database, who.id) if job.status == "queued"]
    assert len(queued) == 1


async def test_a_switched_off_reminder_stops(
    coach: httpx.AsyncClient, coach_database: Database, settings: Settings, pusher: FakePush
) -> None:
    hook = settings.model_copy(update={"coach_push_webhook_url": f"{pusher.url}/hook"})
    who = await builders.member(coach)
    await _register_token(coach, who, "web-token", "web")
    await coach.put("/api/v1/settings/notifications", json=ONLY_REVIEW, headers=who.headers)
    off = {**ONLY_REVIEW, "review_reminder": False}
    assert (
        await coach.put("/api/v1/settings/notifications", json=off, headers=who.headers)
    ).status_code == 200
    await _time_passes(coach_database)
    await Worker(queue, coach_database, hook).run_until_idle()
    assert pusher.hooks == []
    # The device's review and plan jobs, and the one the first save scheduled: all ended.
    assert [job.status for job in await _reminder_jobs(coach_database, who.id)] == ["succeeded"] * 3
