"""Retention (core/retention.py): each app's retention sweep removes the rows older than their
setting's age and keeps the younger ones, on every dialect, in bounded batches."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, select, update

from keel.apps import APP_SLUGS, load_app
from keel.apps.badge.models import ErrorLog, Heartbeat
from keel.apps.coach.models import Job, Workout
from keel.apps.coach.models import Session as CoachSession
from keel.apps.fitness.models import IdempotencyKey, MailOutbox, PasswordResetCode, SessionTombstone
from keel.apps.fitness.models import RefreshToken as FitnessRefreshToken
from keel.apps.queue.models import Event
from keel.apps.shop.models import RevokedToken as ShopRevokedToken
from keel.core import retention
from keel.core.db import Database
from keel.core.jobs import FAILED, QUEUED, SUCCEEDED
from keel.core.sweeps import Sweeper
from keel.settings import Settings
from tests.apps.badge import builders as badge_builders
from tests.apps.coach import builders as coach_builders
from tests.apps.fitness import builders as fitness_builders
from tests.apps.queue import builders as queue_builders


def _days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def _retain(slug: str, database: Database, settings: Settings) -> None:
    """Run the app's own retention sweep through its lease, as a server process would."""
    registration = load_app(slug)
    (sweep,) = [each for each in registration.all_sweeps() if each.name == "retention"]
    lease = registration.sweep_lease
    async with database.sessionmaker() as session:
        left = await session.scalar(select(lease.name).where(lease.name == "retention"))
    assert left is None, "an earlier test left the retention lease behind: this run would be skipped"
    sweeper = Sweeper(slug, lease, [sweep], database, settings)
    await sweeper.run_if_due(sweep)  # the first check anywhere creates the lease row
    await sweeper.run_if_due(sweep)
    async with database.sessionmaker() as session:
        runs = await session.scalar(select(lease.runs).where(lease.name == "retention"))
    assert runs == 1


async def _column(database: Database, column: Any) -> list[Any]:
    async with database.sessionmaker() as session:
        return sorted((await session.scalars(select(column))).all())


@pytest.mark.parametrize("slug", APP_SLUGS)
def test_every_pruned_table_is_indexed_by_the_column_that_ages_it(slug: str) -> None:
    registration = load_app(slug)
    assert registration.retention, f"{slug} prunes nothing"
    for prunable in registration.retention:
        table = prunable.table
        leading = {index.columns[0].name for index in table.indexes} | {table.primary_key.columns[0].name}
        assert prunable.column in leading, f"{table.name}.{prunable.column} has no index"
        assert isinstance(getattr(Settings(), prunable.setting), float)


async def test_fitness_prunes_expired_credentials_idempotency_keys_and_old_mail(
    fitness: httpx.AsyncClient, fitness_database: Database, settings: Settings
) -> None:
    old, young = await fitness_builders.athlete(fitness), await fitness_builders.athlete(fitness)
    async with fitness_database.sessionmaker() as session:
        await session.execute(
            update(FitnessRefreshToken)
            .where(FitnessRefreshToken.user_id == old.id)
            .values(expires_at=_days_ago(1))
        )
        for who, expires in ((old, _days_ago(1)), (young, _days_ago(-0.01))):
            session.add(PasswordResetCode(user_id=who.id, code_hash="h" * 64, expires_at=expires))
        for key, expires in (("old", _days_ago(1)), ("young", _days_ago(-0.05))):
            session.add(
                IdempotencyKey(
                    scope="s", key=key, request_hash="r" * 64, created_at=_days_ago(2), expires_at=expires
                )
            )
        for subject, written in (("old", _days_ago(31)), ("young", _days_ago(29))):
            session.add(MailOutbox(recipient="a@example.com", subject=subject, body="b", created_at=written))
        for client_id, deleted in (("old", _days_ago(181)), ("young", _days_ago(179))):
            session.add(
                SessionTombstone(
                    id=uuid.uuid4(), user_id=old.id, client_session_id=client_id, deleted_at=deleted
                )
            )
        await session.commit()

    await _retain("fitness", fitness_database, settings)

    assert await _column(fitness_database, FitnessRefreshToken.user_id) == [young.id]
    assert await _column(fitness_database, PasswordResetCode.user_id) == [young.id]
    assert await _column(fitness_database, IdempotencyKey.key) == ["young"]
    assert await _column(fitness_database, MailOutbox.subject) == ["young"]
    assert await _column(fitness_database, SessionTombstone.client_session_id) == ["young"]
    # The young account still refreshes: its token was kept.
    refreshed = await fitness.post("/api/v1/auth/refresh", json={"refresh_token": young.refresh_token})
    assert refreshed.status_code == 200, refreshed.text


async def test_coach_prunes_jobs_finished_long_ago_expired_sessions_and_old_tombstones(
    coach: httpx.AsyncClient, coach_database: Database, settings: Settings
) -> None:
    gone, kept = await coach_builders.member(coach), await coach_builders.member(coach)
    old, young, live = [(await coach_builders.record(coach, kept, "workout"))["id"] for _ in range(3)]
    for deleted in (old, young):
        await coach.delete(f"/api/v1/records/workout/{deleted}", headers=kept.headers)
    jobs = [
        ("old success", SUCCEEDED, _days_ago(15)),
        ("old failure", FAILED, _days_ago(15)),
        ("young success", SUCCEEDED, _days_ago(13)),
        ("waiting", QUEUED, None),  # unfinished jobs never go, however old
    ]
    async with coach_database.sessionmaker() as session:
        for kind, status, finished in jobs:
            session.add(
                Job(
                    kind=kind,
                    payload={},
                    status=status,
                    attempts=1,
                    max_attempts=4,
                    run_after=_days_ago(30),
                    created_at=_days_ago(30),
                    finished_at=finished,
                )
            )
        await session.execute(
            update(CoachSession).where(CoachSession.user_id == gone.id).values(expires_at=_days_ago(1))
        )
        # Deletions are remembered 180 days (KEEL_RETENTION_TOMBSTONES_DAYS).
        await session.execute(
            update(Workout).where(Workout.id == uuid.UUID(old)).values(deleted_at=_days_ago(181))
        )
        await session.commit()

    await _retain("coach", coach_database, settings)

    assert await _column(coach_database, Job.kind) == ["waiting", "young success"]
    assert await _column(coach_database, CoachSession.user_id) == [kept.id]
    assert await _column(coach_database, Workout.id) == sorted(uuid.UUID(id_) for id_ in (young, live))


async def test_queue_prunes_events_after_seven_days(
    queue: httpx.AsyncClient, queue_database: Database, settings: Settings
) -> None:
    who = await queue_builders.account(queue)
    async with queue_database.sessionmaker() as session:
        await session.execute(
            insert(Event),
            [
                {
                    "channel": f"user/{who.id}",
                    "seq": seq,
                    "name": name,
                    "data": {},
                    "created_at": _days_ago(days),
                }
                for seq, (name, days) in enumerate((("old", 8), ("young", 6)), 1)
            ],
        )
        await session.commit()

    await _retain("queue", queue_database, settings)

    assert await _column(queue_database, Event.name) == ["young"]


async def test_badge_prunes_heartbeats_after_thirty_days_and_logs_after_ninety(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings
) -> None:
    admin = await badge_builders.account(badge, badge_database, "admin")
    device = await badge_builders.badge(badge, admin)
    for cpu in (10.0, 20.0):
        beat = badge_builders.heartbeat(cpu_usage=cpu)
        sent = await device.request(badge, "POST", f"/api/v1/devices/{device.device_id}/heartbeat", beat)
        assert sent.status_code < 300, sent.text
    for message, days in (("old", 91), ("young", 89)):
        entry = badge_builders.log("error", message=message, timestamp=_days_ago(days).isoformat())
        sent = await device.request(badge, "POST", f"/api/v1/devices/{device.device_id}/logs", entry)
        assert sent.status_code == 201, sent.text
    async with badge_database.sessionmaker() as session:
        first = await session.scalar(select(Heartbeat.id).order_by(Heartbeat.id).limit(1))
        await session.execute(
            update(Heartbeat).where(Heartbeat.id == first).values(received_at=_days_ago(31))
        )
        await session.commit()

    await _retain("badge", badge_database, settings)

    assert await _column(badge_database, Heartbeat.id) == [first + 1]
    assert await _column(badge_database, ErrorLog.error_message) == ["young"]


async def test_a_backlog_goes_in_bounded_batches(
    shop: httpx.AsyncClient, shop_database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 10)
    async with shop_database.sessionmaker() as session:
        rows = [{"jti": f"old{n}", "expires_at": _days_ago(1)} for n in range(25)]
        young = {"jti": "young", "expires_at": _days_ago(-0.05)}
        await session.execute(insert(ShopRevokedToken), [*rows, young])
        await session.commit()
    deleted: list[int] = []

    def count_deletes(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("DELETE FROM revoked_tokens"):
            deleted.append(cursor.rowcount)

    event.listen(shop_database.engine.sync_engine, "after_cursor_execute", count_deletes)
    try:
        await _retain("shop", shop_database, settings)
    finally:
        event.remove(shop_database.engine.sync_engine, "after_cursor_execute", count_deletes)

    assert await _column(shop_database, ShopRevokedToken.jti) == ["young"]
    assert deleted == [10, 10, 5]
