"""The coach migrations carry stored data forward: the day totals stats read are filled from the
records already there."""

import datetime as dt
import uuid
from pathlib import Path

from sqlalchemy import select

from keel.apps import load_app
from keel.apps.coach.models import AuditLog, DayLog, DayTotal, Meal, Reading, User, Workout
from keel.core.db import utcnow
from keel.core.migrations import upgrade_async
from tests.databases import database_at

DAY, NEXT_DAY = dt.date(2026, 11, 20), dt.date(2026, 11, 21)


def _record(log_id: int, day: dt.date, **fields: object) -> dict[str, object]:
    now = utcnow()
    common = {"id": uuid.uuid4(), "user_id": 1, "day_log_id": log_id, "date": day, "note": None}
    return common | {"version": 1, "created_at": now, "updated_at": now, **fields}


async def test_the_day_totals_are_filled_from_stored_records(dialect: str, data_dir: Path) -> None:
    keel_app = load_app("coach")
    async with database_at(dialect, keel_app, data_dir, "0001") as (url, engine):
        async with engine.begin() as connection:
            await connection.execute(
                User.__table__.insert(),
                {
                    "id": 1,
                    "email": "old@example.com",
                    "hashed_password": "x",
                    "timezone": "UTC",
                    "privacy_policy_version": "2026-11-01",
                    "privacy_accepted_at": utcnow(),
                    "is_admin": False,
                    "is_active": True,
                },
            )
            await connection.execute(
                DayLog.__table__.insert(),
                [
                    {
                        "id": n,
                        "user_id": 1,
                        "date": day,
                        "status": "open",
                        "version": 1,
                        "updated_at": utcnow(),
                    }
                    for n, day in ((1, DAY), (2, NEXT_DAY))
                ],
            )
            await connection.execute(
                Workout.__table__.insert(),
                [
                    _record(1, DAY, kind="run", minutes=30, calories=None),
                    _record(1, DAY, kind="swim", minutes=15, calories=200.0),
                    _record(2, NEXT_DAY, kind="run", minutes=20, calories=None),
                ],
            )
            await connection.execute(
                Meal.__table__.insert(), [_record(1, DAY, kind="lunch", calories=None, items=[])]
            )
            await connection.execute(
                Reading.__table__.insert(),
                [_record(2, NEXT_DAY, title="Dune", pages=None, minutes=None, notes=None)],
            )
        await upgrade_async(keel_app, url)
        async with engine.connect() as connection:
            totals = (
                await connection.execute(
                    select(DayTotal.date, DayTotal.dimension, DayTotal.value, DayTotal.records).order_by(
                        DayTotal.date, DayTotal.dimension
                    )
                )
            ).all()
        assert [tuple(row) for row in totals] == [
            (DAY, "meal", 0, 1),  # a meal without calories still counts as a meal
            (DAY, "workout", 45, 2),
            (NEXT_DAY, "reading", 0, 1),
            (NEXT_DAY, "workout", 20, 1),
        ]


def _user(email: str) -> dict[str, object]:
    return {
        "email": email,
        "hashed_password": "x",
        "timezone": "UTC",
        "privacy_policy_version": "2026-11-01",
        "privacy_accepted_at": utcnow(),
        "is_admin": False,
        "is_active": True,
    }


async def test_0004_keeps_the_rows_and_never_reissues_an_erased_accounts_id(
    dialect: str, data_dir: Path
) -> None:
    keel_app = load_app("coach")
    async with database_at(dialect, keel_app, data_dir, "0003") as (url, engine):
        async with engine.begin() as connection:
            kept = (
                await connection.execute(
                    User.__table__.insert().returning(User.id), _user("kept@example.com")
                )
            ).scalar_one()
            erased = (
                await connection.execute(
                    User.__table__.insert().returning(User.id), _user("gone@example.com")
                )
            ).scalar_one()
            log = (
                await connection.execute(
                    DayLog.__table__.insert().returning(DayLog.id),
                    {"user_id": kept, "date": DAY, "status": "open", "version": 1, "updated_at": utcnow()},
                )
            ).scalar_one()
            workout = _record(log, DAY, kind="run", minutes=30, calories=None) | {"user_id": kept}
            await connection.execute(Workout.__table__.insert(), workout)
            # The newest account was erased before the upgrade; its audit row stays.
            await connection.execute(
                AuditLog.__table__.insert(),
                {
                    "user_id": erased,
                    "action": "account.delete",
                    "target": f"user:{erased}",
                    "created_at": utcnow(),
                },
            )
            await connection.execute(User.__table__.delete().where(User.id == erased))
            before = (await connection.execute(select(User.__table__))).all()
        await upgrade_async(keel_app, url)
        async with engine.begin() as connection:
            assert (await connection.execute(select(User.__table__))).all() == before
            assert (await connection.execute(select(DayLog.id, DayLog.user_id, DayLog.date))).all() == [
                (log, kept, DAY)
            ]
            assert (
                await connection.execute(select(Workout.id, Workout.day_log_id, Workout.minutes))
            ).all() == [(workout["id"], log, 30)]
            if dialect == "sqlite":
                assert (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all() == []
            new = (
                await connection.execute(User.__table__.insert().returning(User.id), _user("new@example.com"))
            ).scalar_one()
        assert new > erased
