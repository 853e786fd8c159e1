"""`keel seed`: the admin always; with `demo`, a demo athlete, a training for each kind of
machine, and the app version gate for both platforms (with placeholder store links). Idempotent: rows are matched by their unique
fields (email, title, platform), so a second run adds nothing."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import AppVersion, Training, User
from keel.apps.fitness.services.accounts import create_user
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


async def _ensure_user(
    session: AsyncSession, email: str, name: str, password: str, *, is_admin: bool
) -> None:
    if (await session.execute(select(User.id).where(User.email == email.lower()))).first():
        return
    user = await create_user(session, email, name, password)
    user.is_admin = is_admin


async def seed(session: AsyncSession, settings: Settings, *, demo: bool) -> None:
    await _ensure_user(session, settings.admin_email, "Admin", settings.admin_password, is_admin=True)
    if demo:
        await _demo(session)


async def _demo(session: AsyncSession) -> None:
    await _ensure_user(session, *DEMO_USER, is_admin=False)
    titles = set((await session.scalars(select(Training.title))).all())
    session.add_all(Training(**training) for training in TRAININGS if training["title"] not in titles)
    platforms = set((await session.scalars(select(AppVersion.platform))).all())
    session.add_all(
        AppVersion(platform=platform, latest_version=latest, min_supported_version=minimum, store_url=url)
        for platform, latest, minimum, url in APP_VERSIONS
        if platform not in platforms
    )
    await session.flush()
