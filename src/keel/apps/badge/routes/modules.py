from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from keel.apps.badge.deps import Admin, Reader
from keel.apps.badge.schemas.modules import (
    CompatibilityOut,
    CompatibilityRequest,
    ModuleCreate,
    ModuleOut,
    ModuleUpdate,
)
from keel.apps.badge.services import modules
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/modules", tags=["modules"], route_class=TransactionalRoute)

ModuleName = Annotated[str, Path(max_length=64)]


@router.get("", response_model=list[ModuleOut], responses=error_responses(Unauthorized))
async def list_modules(
    _reader: Reader,
    db: ReadDb,
    active: bool | None = None,
    module_type: Annotated[str | None, Query(max_length=32)] = None,
) -> list[Any]:
    return await modules.list_modules(db, active=active, module_type=module_type)


@router.post(
    "",
    status_code=201,
    response_model=ModuleOut,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_module(data: ModuleCreate, _admin: Admin, session: DbSession) -> Any:
    """`dependencies` maps module names to version constraints (`>=1.2.0,<2`, `^1.2`, `~1.2.0`)."""
    return await modules.create(session, data)


@router.post("/compatibility", response_model=CompatibilityOut, responses=error_responses(Unauthorized))
async def compatibility(data: CompatibilityRequest, _reader: Reader, db: ReadDb) -> dict[str, Any]:
    """Resolve the modules and their dependencies: what is missing, what conflicts."""
    return await modules.compatibility(db, data)


@router.get("/{module_name}", response_model=ModuleOut, responses=error_responses(Unauthorized, NotFound))
async def get_module(module_name: ModuleName, _reader: Reader, db: ReadDb) -> Any:
    return await modules.get(db, module_name)


@router.patch(
    "/{module_name}", response_model=ModuleOut, responses=error_responses(Unauthorized, Forbidden, NotFound)
)
async def update_module(
    module_name: ModuleName, data: ModuleUpdate, _admin: Admin, session: DbSession
) -> Any:
    return await modules.update(session, module_name, data)


@router.delete(
    "/{module_name}", status_code=204, responses=error_responses(Unauthorized, Forbidden, NotFound)
)
async def delete_module(module_name: ModuleName, _admin: Admin, session: DbSession) -> Response:
    """Deactivated, not erased: devices' configs and history keep naming it."""
    module = await modules.load(session, module_name)
    module.is_active = False
    await session.flush()
    return Response(status_code=204)
