"""The module registry: modules with a version, dependencies on other modules (as version
constraints) and a JSON Schema for their config; and the check that resolves a set of modules
and reports what is missing or conflicting."""

from typing import Any

import jsonschema_rs
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.badge.models import Module
from keel.apps.badge.schemas.modules import CompatibilityRequest, ModuleCreate, ModuleUpdate
from keel.apps.badge.services import semver
from keel.core.db import Executor
from keel.core.errors import Conflict, NotFound, Unprocessable


def _check(dependencies: dict[str, str] | None, config_schema: dict[str, Any] | None) -> None:
    for name, constraint in (dependencies or {}).items():
        if not semver.valid_constraint(constraint):
            raise Unprocessable(
                f"{name}: {constraint!r} is not a version constraint", loc=("body", "dependencies")
            )
    if config_schema is not None:
        try:
            jsonschema_rs.validator_for(config_schema)
        except (jsonschema_rs.ValidationError, ValueError) as error:
            message = str(error).splitlines()[0]
            raise Unprocessable(
                f"config_schema is not a JSON Schema: {message}", loc=("body", "config_schema")
            ) from None


async def create(session: AsyncSession, data: ModuleCreate) -> Module:
    _check(data.dependencies, data.config_schema)
    if (await session.execute(select(Module.id).where(Module.module_name == data.module_name))).first():
        raise Conflict(f"Module {data.module_name!r} already exists")
    module = Module(**data.model_dump())
    session.add(module)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"Module {data.module_name!r} already exists") from None
    return module


async def load(session: AsyncSession, name: str) -> Module:
    module = (await session.execute(select(Module).where(Module.module_name == name))).scalar_one_or_none()
    if module is None:
        raise NotFound(f"No module {name!r}")
    return module


async def update(session: AsyncSession, name: str, data: ModuleUpdate) -> Module:
    changes = data.model_dump(exclude_unset=True)
    _check(changes.get("dependencies"), changes.get("config_schema"))
    module = await load(session, name)
    for field, value in changes.items():
        setattr(module, field, value)
    await session.flush()
    await session.refresh(module)
    return module


async def list_modules(db: Executor, *, active: bool | None, module_type: str | None) -> list[Any]:
    statement = select(*Module.__table__.columns).order_by(Module.module_name)
    if active is not None:
        statement = statement.where(Module.is_active.is_(active))
    if module_type is not None:
        statement = statement.where(Module.module_type == module_type)
    return list((await db.execute(statement)).all())


async def get(db: Executor, name: str) -> Any:
    row = (await db.execute(select(*Module.__table__.columns).where(Module.module_name == name))).first()
    if row is None:
        raise NotFound(f"No module {name!r}")
    return row


async def compatibility(db: Executor, request: CompatibilityRequest) -> dict[str, Any]:
    """Walk the requested modules and their dependencies through the registry (one version of
    each): a module absent or inactive is missing; a version that does not meet what the
    request or a dependent asks is a conflict."""
    registry = {
        row.module_name: row
        for row in (
            await db.execute(
                select(Module.module_name, Module.module_version, Module.is_active, Module.dependencies)
            )
        ).all()
    }
    missing: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    resolved: dict[str, str] = {}
    pending: list[tuple[str, str | None, str | None]] = [
        (item.module_name, f"=={item.version}" if item.version else None, None) for item in request.modules
    ]
    while pending:
        name, constraint, required_by = pending.pop(0)
        module = registry.get(name)
        if module is None or not module.is_active:
            if not any(
                entry["module_name"] == name and entry["required_by"] == required_by for entry in missing
            ):
                missing.append({"module_name": name, "required_by": required_by, "constraint": constraint})
            continue
        if constraint is not None and not semver.satisfies(module.module_version, constraint):
            conflicts.append(
                {
                    "module_name": name,
                    "required_by": required_by,
                    "constraint": constraint,
                    "available": module.module_version,
                }
            )
        if name in resolved:
            continue
        resolved[name] = module.module_version
        pending.extend(
            (dependency, wanted, name) for dependency, wanted in (module.dependencies or {}).items()
        )
    return {
        "compatible": not missing and not conflicts,
        "resolved": resolved,
        "missing": missing,
        "conflicts": conflicts,
    }
