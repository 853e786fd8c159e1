"""The back office's reads across every user: sessions with their owners, users with their
totals. The lists are the app's own queries (services.sessions, services.accounts) without the
signed-in user's scope; each session row names its owner."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import User, WorkoutSession
from keel.apps.fitness.services import accounts, sessions
from keel.core.db import Executor
from keel.core.errors import NotFound, Unprocessable
from keel.core.pagination import PageRequest, fetch_page

_OWNER = (
    User.id.label("owner_id"),
    User.email.label("owner_email"),
    User.display_name.label("owner_display_name"),
)
_USER_COLUMNS = [column for column in User.__table__.columns if column.key != "hashed_password"]


def _with_owner(statement: Select[Any]) -> Select[Any]:
    return statement.add_columns(*_OWNER).join(User, User.id == WorkoutSession.user_id)


def _owned(row: Any) -> dict[str, Any]:
    fields = dict(row._mapping)
    owner = {key: fields.pop(f"owner_{key}") for key in ("id", "email", "display_name")}
    return fields | {"user": owner}


async def list_sessions(
    db: Executor,
    page: PageRequest,
    *,
    user_id: int | None,
    device_type: str | None,
    source_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[dict[str, Any]], int]:
    if since is not None and until is not None and since > until:
        raise Unprocessable("from is after to", loc=("query", "from"))
    statement = sessions.listing(
        user_id=user_id, device_type=device_type, source_type=source_type, since=since, until=until
    )
    rows, total = await fetch_page(db, _with_owner(statement), page)
    return [_owned(row) for row in rows], total


async def session_detail(db: Executor, session_id: uuid.UUID) -> dict[str, Any]:
    row = (await db.execute(_with_owner(sessions.by_id(session_id, with_series=True)))).first()
    if row is None:
        raise NotFound("Session not found")
    return _owned(row)


async def list_users(
    db: Executor, page: PageRequest, *, search: str | None
) -> tuple[list[dict[str, Any]], int]:
    """Users newest first; `search` is a substring of the email or the display name, in any
    case (lower() folds every letter on each dialect: see keel.core.db)."""
    statement = select(*_USER_COLUMNS).order_by(User.id.desc())
    if search:
        statement = statement.where(
            or_(
                User.email.icontains(search, autoescape=True),
                User.display_name.icontains(search, autoescape=True),
            )
        )
    rows, total = await fetch_page(db, statement, page)
    return [dict(row._mapping) for row in rows], total


async def user_detail(session: AsyncSession, user_id: int) -> dict[str, Any]:
    if await session.get(User, user_id) is None:
        raise NotFound("User not found")
    return await accounts.profile(session, user_id) | {"activity": await activity(session, user_id)}


async def activity(db: Executor, user_id: int) -> dict[str, Any]:
    """The user's stored sessions summed per device type, most sessions first, and in all."""
    statement = (
        select(
            WorkoutSession.device_type,
            func.count().label("sessions"),
            func.coalesce(func.sum(WorkoutSession.duration_seconds), 0).label("duration_seconds"),
            func.coalesce(func.sum(WorkoutSession.total_calories), 0).label("calories"),
            func.coalesce(func.sum(WorkoutSession.total_distance_meters), 0).label("distance_meters"),
            func.min(WorkoutSession.start_time).label("first_start_time"),
            func.max(WorkoutSession.start_time).label("last_start_time"),
        )
        .where(WorkoutSession.user_id == user_id)
        .group_by(WorkoutSession.device_type)
    )
    rows = [dict(row._mapping) for row in await db.execute(statement)]
    # SUM answers a Decimal on some dialects: the numbers are made plain here.
    for row in rows:
        row["sessions"], row["duration_seconds"] = int(row["sessions"]), int(row["duration_seconds"])
        row["calories"], row["distance_meters"] = float(row["calories"]), float(row["distance_meters"])
    rows.sort(key=lambda row: (-row["sessions"], row["device_type"]))
    firsts = [row.pop("first_start_time") for row in rows]
    return {
        "sessions": sum(row["sessions"] for row in rows),
        "duration_seconds": sum(row["duration_seconds"] for row in rows),
        "calories": sum(row["calories"] for row in rows),
        "distance_meters": sum(row["distance_meters"] for row in rows),
        "first_start_time": min(firsts, default=None),
        "last_start_time": max((row["last_start_time"] for row in rows), default=None),
        "by_device": rows,
    }
