"""The back office's reads across every user: sessions with their owners, users with their
totals. The lists are the app's own queries (services.sessions, services.accounts) without the
signed-in user's scope; each session row names its owner."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
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
    return await accounts.profile(session, user_id)
