"""The error-code centre: codes with a level, messages in Chinese and English and a handling
guide; lookup by code and language; how often each code was seen in device logs."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.badge.models import ErrorCode, ErrorLog
from keel.apps.badge.schemas import ErrorCodeCreate, ErrorCodeUpdate, Level
from keel.core.db import Executor
from keel.core.errors import Conflict, NotFound


async def create(session: AsyncSession, data: ErrorCodeCreate) -> ErrorCode:
    if (await session.execute(select(ErrorCode.id).where(ErrorCode.code == data.code))).first():
        raise Conflict(f"Error code {data.code!r} already exists")
    code = ErrorCode(**data.model_dump(mode="json"))
    session.add(code)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"Error code {data.code!r} already exists") from None
    return code


async def update(session: AsyncSession, code: str, data: ErrorCodeUpdate) -> ErrorCode:
    row = (await session.execute(select(ErrorCode).where(ErrorCode.code == code))).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No error code {code!r}")
    for field, value in data.model_dump(exclude_unset=True, mode="json").items():
        setattr(row, field, value)
    await session.flush()
    return row


async def list_codes(db: Executor, *, level: Level | None, module: str | None) -> list[Any]:
    statement = select(*ErrorCode.__table__.columns).order_by(ErrorCode.code)
    if level is not None:
        statement = statement.where(ErrorCode.level == level.value)
    if module is not None:
        statement = statement.where(ErrorCode.module_name == module)
    return list((await db.execute(statement)).all())


async def lookup(db: Executor, code: str, lang: str) -> dict[str, Any]:
    row = (await db.execute(select(*ErrorCode.__table__.columns).where(ErrorCode.code == code))).first()
    if row is None:
        raise NotFound(f"No error code {code!r}")
    return {
        "code": row.code,
        "level": row.level,
        "module_name": row.module_name,
        "lang": lang,
        "message": row.message_zh if lang == "zh" else row.message_en,
        "guide": row.guide_zh if lang == "zh" else row.guide_en,
    }


async def statistics(db: Executor, *, since: Any, device_id: str | None, lang: str) -> list[dict[str, Any]]:
    """Codes seen in logs since then, most frequent first, with their definitions when known."""
    count = func.count().label("n")
    seen = select(ErrorLog.error_code, count).where(ErrorLog.error_code != "", ErrorLog.occurred_at >= since)
    if device_id is not None:
        seen = seen.where(ErrorLog.device_id == device_id)
    seen = seen.group_by(ErrorLog.error_code).subquery()
    message = ErrorCode.message_zh if lang == "zh" else ErrorCode.message_en
    statement = (
        select(seen.c.error_code, seen.c.n, ErrorCode.level, message)
        .outerjoin(ErrorCode, ErrorCode.code == seen.c.error_code)
        .order_by(seen.c.n.desc(), seen.c.error_code)
    )
    return [
        {"code": code, "count": n, "level": level, "message": text}
        for code, n, level, text in (await db.execute(statement)).all()
    ]
