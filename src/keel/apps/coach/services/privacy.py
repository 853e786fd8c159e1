"""The user's own data: everything at once (export), erasure after a confirmation step, and
the audit log both leave behind (spec 001, section 7)."""

import datetime as dt
from typing import Any

import jwt
from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.coach.models import (
    AITask,
    AuditLog,
    DayLog,
    IdempotencyKey,
    PushToken,
    Session,
    Target,
    User,
    UserSettings,
)
from keel.apps.coach.services import files
from keel.apps.coach.services.dimensions import DIMENSIONS, live
from keel.core.db import utcnow
from keel.core.errors import Unprocessable
from keel.core.storage import Presigner

CONFIRMATION_TTL = dt.timedelta(minutes=10)
_AUDIENCE = "coach:delete-account"


async def audit(session: AsyncSession, user_id: int, action: str, target: str | None, ip: str | None) -> None:
    session.add(AuditLog(user_id=user_id, action=action, target=target, ip_address=ip, created_at=utcnow()))
    await session.flush()


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]


async def export(session: AsyncSession, user_id: int, request: Request, store: Presigner) -> dict[str, Any]:
    """All of the user's data, as JSON-ready dicts (no password hash, no token hashes); the
    uploaded files with links valid for an hour."""
    user = await session.get_one(User, user_id)
    profile = {
        column.key: getattr(user, column.key)
        for column in User.__table__.c
        if column.key not in ("hashed_password", "is_admin", "is_active")
    }
    data: dict[str, Any] = {"exported_at": utcnow(), "user": profile}
    for table in (Target, UserSettings):
        data[table.__tablename__] = _rows(
            await session.execute(select(table.__table__).where(table.user_id == user_id))
        )
    data["day_logs"] = _rows(
        await session.execute(select(DayLog.__table__).where(DayLog.user_id == user_id).order_by(DayLog.date))
    )
    data["records"] = {
        name: _rows(
            await session.execute(
                select(*spec.columns)
                .where(spec.model.user_id == user_id, live(spec.model))
                .order_by(spec.model.date)
            )
        )
        for name, spec in DIMENSIONS.items()
    }
    data["ai_tasks"] = _rows(
        await session.execute(
            select(AITask.__table__).where(AITask.user_id == user_id).order_by(AITask.created_at)
        )
    )
    data["files"] = await files.listing(session, request, store, user_id)
    data["push_tokens"] = _rows(
        await session.execute(
            select(PushToken.token, PushToken.platform, PushToken.created_at).where(
                PushToken.user_id == user_id
            )
        )
    )
    data["sessions"] = _rows(
        await session.execute(
            select(
                Session.id, Session.device, Session.ip_address, Session.created_at, Session.last_used_at
            ).where(Session.user_id == user_id)
        )
    )
    data["audit_log"] = _rows(
        await session.execute(
            select(AuditLog.action, AuditLog.target, AuditLog.ip_address, AuditLog.created_at).where(
                AuditLog.user_id == user_id
            )
        )
    )
    return data


def confirmation_token(secret: str, user_id: int) -> tuple[str, dt.datetime]:
    """A short-lived proof that this user asked to erase the account a moment ago."""
    expires_at = utcnow() + CONFIRMATION_TTL
    token = jwt.encode({"sub": str(user_id), "aud": _AUDIENCE, "exp": expires_at}, secret, algorithm="HS256")
    return token, expires_at


def check_confirmation(secret: str, user_id: int, token: str) -> None:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=_AUDIENCE)
    except jwt.ExpiredSignatureError:
        raise Unprocessable(
            "The confirmation has expired; ask for a new one", loc=("body", "confirmation_token")
        ) from None
    except jwt.InvalidTokenError:
        raise Unprocessable("Invalid confirmation token", loc=("body", "confirmation_token")) from None
    if claims.get("sub") != str(user_id):
        raise Unprocessable("Invalid confirmation token", loc=("body", "confirmation_token"))


async def erase(session: AsyncSession, user_id: int, ip: str | None, request: Request | None = None) -> None:
    """Delete the user and, by cascade, everything that is theirs; the audit entry stays. The
    uploaded objects are removed from storage by a job committed with the erasure."""
    await audit(session, user_id, "account.delete", f"user:{user_id}", ip)
    # Scoped by the user's id, which SQLite may give a new account: its keys must not replay ours.
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.scope.startswith(f"user:{user_id}:")))
    await files.forget(session, user_id, request)
    await session.execute(delete(User).where(User.id == user_id))
