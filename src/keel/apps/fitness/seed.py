"""`keel seed`: the admin always; with `demo`, a demo athlete with a few recorded sessions
(their curves for the console), a training for each kind of machine, and the app version gate
for both platforms (with placeholder store links). Idempotent: rows are matched by their unique
fields (email, title, platform, the sessions' client ids), so a second run adds nothing."""

import math
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import AppVersion, Training, User
from keel.apps.fitness.services import sessions
from keel.apps.fitness.services.accounts import create_user
from keel.core.db import utcnow
from keel.settings import Settings

DEMO_USER = ("athlete@example.com", "Demo Athlete", "password123")

TRAININGS = [
    {
        "title": "Rowing Intervals 20'",
        "type": "course",
        "cover_url": "https://placehold.co/800x450?text=Rowing+Intervals",
        "supported_devices": ["rower"],
        "settings": {
            "segments": [
                {"at": 0, "resistance": 4},
                {"at": 300, "resistance": 7},
                {"at": 900, "resistance": 4},
            ]
        },
    },
    {
        "title": "Hill Climb Ride",
        "type": "course",
        "cover_url": "https://placehold.co/800x450?text=Hill+Climb",
        "supported_devices": ["bike"],
        "settings": {"segments": [{"at": 0, "resistance": 3}, {"at": 600, "resistance": 9}]},
    },
    {
        "title": "Tempo Run",
        "type": "course",
        "cover_url": "https://placehold.co/800x450?text=Tempo+Run",
        "supported_devices": ["treadmill"],
        "settings": {"segments": [{"at": 0, "speed_kmh": 8, "incline_pct": 1}, {"at": 600, "speed_kmh": 11}]},
    },
    {
        "title": "Free Ride",
        "type": "free",
        "cover_url": "https://placehold.co/800x450?text=Free+Ride",
        "supported_devices": ["rower", "bike", "treadmill"],
        "settings": {},
    },
]

APP_VERSIONS = [
    ("ios", "1.4.0", "1.2.0", "https://apps.apple.com/app/id0000000000"),
    ("android", "1.4.0", "1.2.0", "https://play.google.com/store/apps/details?id=com.example.fitness"),
]


# The athlete's demo sessions: (client id, device, days ago, minutes, the course's title or None).
DEMO_SESSIONS = [
    ("demo-rower-1", "rower", 1, 20, "Rowing Intervals 20'"),
    ("demo-bike-1", "bike", 2, 30, "Hill Climb Ride"),
    ("demo-treadmill-1", "treadmill", 4, 25, None),
    ("demo-rower-2", "rower", 6, 15, None),
]


async def _ensure_user(session: AsyncSession, email: str, name: str, password: str, *, is_admin: bool) -> int:
    found = (await session.execute(select(User.id).where(User.email == email.lower()))).first()
    if found:
        return int(found.id)
    user = await create_user(session, email, name, password)
    user.is_admin = is_admin
    return user.id


def _points(device: str, minutes: int) -> list[dict[str, Any]]:
    """A point every 10 seconds: an effort that rises and falls, as a machine would record it."""
    points: list[dict[str, Any]] = []
    distance = 0.0
    for step in range(minutes * 6 + 1):
        t = step * 10.0
        wave = math.sin(t / 150)  # intervals of about 15 minutes
        warm = min(1.0, t / 180)  # the first three minutes warm up
        heart = round(95 + 55 * warm + 12 * wave)
        if device == "treadmill":
            speed = round(6 + 4 * warm + 1.5 * wave, 1)
            distance += speed / 3.6 * 10
            points.append(
                {
                    "t": t,
                    "speed_kmh": speed,
                    "incline_pct": round(1 + 2 * max(0.0, wave), 1),
                    "distance": round(distance, 1),
                    "heart_rate": heart,
                }
            )
            continue
        watts = round(60 + 120 * warm + 45 * wave, 1)
        if device == "rower":
            # Concept2's relation of power and pace: watts = 2.8 / (seconds per metre)³.
            pace = round(500 * (2.8 / watts) ** (1 / 3), 1)
            distance += 500 / pace * 10
            points.append(
                {
                    "t": t,
                    "watts": watts,
                    "spm": round(18 + 6 * warm + 3 * wave, 1),
                    "pace_500m": pace,
                    "distance": round(distance, 1),
                    "heart_rate": heart,
                }
            )
        else:
            speed = round(15 + 12 * warm + 5 * wave, 1)
            distance += speed / 3.6 * 10
            resistance = 3 + (6 if t >= 600 else 0)
            points.append(
                {
                    "t": t,
                    "watts": watts,
                    "cadence": round(70 + 15 * warm + 8 * wave, 1),
                    "speed_kmh": speed,
                    "resistance": resistance,
                    "distance": round(distance, 1),
                    "heart_rate": heart,
                }
            )
    return points


def _summary(device: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(key: str) -> float:
        return round(sum(point[key] for point in points) / len(points), 1)

    summary: dict[str, Any] = {
        "avg_heart_rate": round(mean("heart_rate")),
        "max_heart_rate": max(point["heart_rate"] for point in points),
    }
    if device == "treadmill":
        return summary | {
            "avg_speed_kmh": mean("speed_kmh"),
            "max_speed_kmh": max(point["speed_kmh"] for point in points),
            "avg_incline_pct": mean("incline_pct"),
            "total_steps": round(points[-1]["distance"] / 0.8),
        }
    summary |= {"avg_watts": mean("watts"), "max_watts": max(point["watts"] for point in points)}
    if device == "rower":
        return summary | {
            "avg_spm": mean("spm"),
            "avg_pace_500m": mean("pace_500m"),
            "total_strokes": round(mean("spm") * points[-1]["t"] / 60),
        }
    return summary | {
        "avg_cadence": mean("cadence"),
        "avg_speed_kmh": mean("speed_kmh"),
        "max_resistance": max(point["resistance"] for point in points),
    }


async def _demo_sessions(session: AsyncSession, user_id: int) -> None:
    """Stored as the app uploads them (checked, counted in the totals); the ones stored
    already are duplicates, so a second run stores nothing."""
    courses = {row.title: row.id for row in await session.execute(select(Training.title, Training.id))}
    today = utcnow().replace(hour=7, minute=0, second=0, microsecond=0)
    items = []
    for client_id, device, days_ago, minutes, course in DEMO_SESSIONS:
        start = today - timedelta(days=days_ago)
        points = _points(device, minutes)
        fields = {
            "client_session_id": client_id,
            "source_type": "backend" if course else "free",
            "training_id": courses.get(course) if course else None,
            "device_type": device,
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(minutes=minutes)).isoformat(),
            "duration_seconds": minutes * 60,
            "total_calories": round(minutes * (11.5 if device == "rower" else 9.8), 1),
            "total_distance_meters": points[-1]["distance"],
            "xp_earned": minutes * 2,
            "metrics_summary": _summary(device, points),
            "time_series_data": points,
        }
        items.append(sessions.read_session(orjson.dumps(fields)))
    await sessions.store(session, session, user_id, items)


async def seed(session: AsyncSession, settings: Settings, *, demo: bool) -> None:
    await _ensure_user(session, settings.admin_email, "Admin", settings.admin_password, is_admin=True)
    if demo:
        await _demo(session)


async def _demo(session: AsyncSession) -> None:
    athlete = await _ensure_user(session, *DEMO_USER, is_admin=False)
    titles = set((await session.scalars(select(Training.title))).all())
    session.add_all(Training(**training) for training in TRAININGS if training["title"] not in titles)
    platforms = set((await session.scalars(select(AppVersion.platform))).all())
    session.add_all(
        AppVersion(platform=platform, latest_version=latest, min_supported_version=minimum, store_url=url)
        for platform, latest, minimum, url in APP_VERSIONS
        if platform not in platforms
    )
    await session.flush()
    await _demo_sessions(session, athlete)
