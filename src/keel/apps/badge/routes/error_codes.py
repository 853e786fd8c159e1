from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from keel.apps.badge.deps import Admin, Principal, Reader
from keel.apps.badge.schemas import (
    ErrorCodeCount,
    ErrorCodeCreate,
    ErrorCodeLocalized,
    ErrorCodeOut,
    ErrorCodeUpdate,
    Level,
)
from keel.apps.badge.services import error_codes, logs
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/error-codes", tags=["error-codes"], route_class=TransactionalRoute)

Code = Annotated[str, Path(max_length=16)]
Lang = Literal["zh", "en"]


@router.get("", response_model=list[ErrorCodeOut], responses=error_responses(Unauthorized))
async def list_codes(
    _reader: Reader,
    db: ReadDb,
    level: Level | None = None,
    module: Annotated[str | None, Query(max_length=64)] = None,
) -> list[Any]:
    return await error_codes.list_codes(db, level=level, module=module)


@router.post(
    "",
    status_code=201,
    response_model=ErrorCodeOut,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_code(data: ErrorCodeCreate, _admin: Admin, session: DbSession) -> Any:
    return await error_codes.create(session, data)


@router.get(
    "/statistics", response_model=list[ErrorCodeCount], responses=error_responses(Unauthorized, NotFound)
)
async def statistics(
    principal: Reader,
    db: ReadDb,
    period: Annotated[str, Query(max_length=8)] = "7d",
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    lang: Lang = "en",
) -> list[dict[str, Any]]:
    """Codes seen in device logs over the period, most frequent first."""
    return await error_codes.statistics(
        db, since=logs.since(period), device_id=_scope(principal, device_id), lang=lang
    )


def _scope(principal: Principal, device_id: str | None) -> str | None:
    if principal.is_device:
        principal.own_device(device_id or principal.device_id or "")
        return principal.device_id
    return device_id


@router.get("/{code}", response_model=ErrorCodeLocalized, responses=error_responses(Unauthorized, NotFound))
async def lookup(code: Code, _reader: Reader, db: ReadDb, lang: Lang = "en") -> dict[str, Any]:
    """The message and handling guide in `lang` (zh or en)."""
    return await error_codes.lookup(db, code, lang)


@router.patch(
    "/{code}", response_model=ErrorCodeOut, responses=error_responses(Unauthorized, Forbidden, NotFound)
)
async def update_code(code: Code, data: ErrorCodeUpdate, _admin: Admin, session: DbSession) -> Any:
    return await error_codes.update(session, code, data)
