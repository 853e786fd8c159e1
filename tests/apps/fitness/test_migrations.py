"""The fitness migrations carry stored data forward: series keep their points when their column
becomes text, and the workout days are filled from the sessions already there."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import column, select, table

from keel.apps import load_app
from keel.apps.fitness.models import User, WorkoutDay, WorkoutSession
from keel.core.db import JSONColumn
from keel.core.migrations import upgrade_async
from tests.databases import database_at

SERIES = [{"t": 0.0, "watts": 150.5, "heart_rate": 120}, {"t": 1.0, "watts": 151.0}]


async def test_stored_sessions_survive_the_upgrades(dialect: str, data_dir: Path) -> None:
    keel_app = load_app("fitness")
    async with database_at(dialect, keel_app, data_dir, "0001") as (url, engine):
        async with engine.begin() as connection:
            await connection.execute(
                User.__table__.insert(),
                {"id": 1, "email": "tz@example.com", "display_name": "TZ", "timezone": "Asia/Taipei"},
            )
            # Written as revision 0001 stored them: the series as JSON.
            sessions = table(
                "workout_sessions",
                *(
                    column(c.name, JSONColumn if c.name == "time_series_data" else c.type)
                    for c in WorkoutSession.__table__.c
                ),
            )
            starts = [
                datetime(2026, 11, 19, 22, 0, tzinfo=UTC),  # the 20th in Taipei
                datetime(2026, 11, 20, 8, 0, tzinfo=UTC),  # the 20th too
                datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
            ]
            await connection.execute(
                sessions.insert(),
                [
                    {
                        "id": uuid.uuid4(),
                        "client_session_id": f"c{n}",
                        "user_id": 1,
                        "source_type": "free",
                        "device_type": "rower",
                        "start_time": start,
                        "end_time": start,
                        "duration_seconds": 0,
                        "total_calories": 0.0,
                        "total_distance_meters": 0.0,
                        "xp_earned": 0,
                        "metrics_summary": {},
                        "time_series_data": SERIES,
                        "created_at": start,
                    }
                    for n, start in enumerate(starts)
                ],
            )
        await upgrade_async(keel_app, url)
        async with engine.connect() as connection:
            series = (await connection.execute(select(WorkoutSession.time_series_data))).scalars().all()
            days = (await connection.execute(select(WorkoutDay.day).order_by(WorkoutDay.day))).scalars().all()
        assert series == [SERIES] * 3
        assert [day.isoformat() for day in days] == ["2026-11-20", "2026-11-22"]
