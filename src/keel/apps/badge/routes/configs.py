from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from keel.apps.badge.deps import Admin, Principal, Push, Viewer, Writer
from keel.apps.badge.schemas.configs import (
    ConfigBatch,
    ConfigBatchOut,
    ConfigCentreSet,
    ConfigHistoryOut,
    ConfigOut,
    ConfigPage,
    ConfigRollback,
    ConfigScope,
    TemplateApply,
    TemplateCreate,
    TemplateOut,
)
from keel.apps.badge.services import configs, devices
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, error_responses
from keel.core.pagination import PageParams
from keel.core.params import IntId

router = APIRouter(prefix="/api/v1/configs", tags=["configs"], route_class=TransactionalRoute)


def _secret_key(request: Request) -> str:
    return request.app.state.settings.secret_key


def _actor(principal: Principal) -> str:
    return f"user:{principal.user_id}"


def _push_all(push: Any, changes: list[configs.Change]) -> None:
    for change in changes:
        push.send(change.device_id, "config/update", configs.message(change))


@router.get("", response_model=list[ConfigOut], responses=error_responses(Unauthorized, Forbidden))
async def list_configs(
    request: Request,
    principal: Viewer,
    db: ReadDb,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    module_name: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """Encrypted values are shown to admins only (null to others). A `user` sees the keys of
    the badges bound to them and the module-wide ones."""
    if device_id is not None:
        await devices.require_device(db, device_id, principal.owner)
    rows = await configs.list_configs(
        db, device_id=device_id, module_name=module_name, effective=False, owner=principal.owner
    )
    return [configs.view(row, reveal=principal.is_admin, secret_key=_secret_key(request)) for row in rows]


@router.get(
    "/search", response_model=ConfigPage, responses=error_responses(Unauthorized, Forbidden, NotFound)
)
async def search(
    request: Request,
    principal: Viewer,
    db: ReadDb,
    page: PageParams,
    scope: ConfigScope | None = None,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    module_name: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=128, description="Part of the key, any case")] = None,
) -> dict[str, Any]:
    """The config centre's list, a page at a time: by `scope` (`global`: every badge, no module;
    `module`: every badge using a module; `device`: one badge's own), badge, module and part of
    the key. What each caller sees is as for `GET /configs` (encrypted values for admins; a
    `user`, the module-wide keys and their badges'; another's badge is 404)."""
    if device_id is not None:
        await devices.require_device(db, device_id, principal.owner)
    return await configs.search_configs(
        db,
        page,
        scope=scope.value if scope is not None else None,
        device_id=device_id,
        module_name=module_name,
        q=q,
        owner=principal.owner,
        reveal=principal.is_admin,
        secret_key=_secret_key(request),
    )


@router.put("", response_model=ConfigOut, responses=error_responses(Unauthorized, Forbidden, NotFound))
async def set_config(
    data: ConfigCentreSet, request: Request, principal: Writer, session: DbSession, push: Push
) -> dict[str, Any]:
    """A key for one device (`device_id`), or for every device using a module (no `device_id`):
    validated by type and by the module's schema, versioned. Encrypted values and module-wide
    keys: admins only; a `user` sets keys of the badges bound to them."""
    await configs.check_change(
        session,
        device_id=data.device_id,
        encrypted=data.is_encrypted,
        admin=principal.is_admin,
        owner=principal.owner,
    )
    config, change = await configs.set_config(
        session,
        data,
        device_id=data.device_id,
        actor=_actor(principal),
        change="set",
        secret_key=_secret_key(request),
        is_encrypted=data.is_encrypted,
    )
    _push_all(push, [change] if change else [])
    return configs.view(config, reveal=principal.is_admin, secret_key=_secret_key(request))


@router.post(
    "/batch", response_model=ConfigBatchOut, responses=error_responses(Unauthorized, Forbidden, NotFound)
)
async def batch(
    data: ConfigBatch, request: Request, principal: Writer, session: DbSession, push: Push
) -> ConfigBatchOut:
    """Every item on every listed device, in one transaction: all applied, or none (404 names
    the devices that do not exist, or, for a `user`, are not bound to them)."""
    changes = await configs.apply_items(
        session,
        data.device_ids,
        data.items,
        actor=_actor(principal),
        change="batch",
        secret_key=_secret_key(request),
        owner=principal.owner,
    )
    _push_all(push, changes)
    return ConfigBatchOut(devices=len(set(data.device_ids)), changed=len(changes))


@router.get(
    "/templates", response_model=list[TemplateOut], responses=error_responses(Unauthorized, Forbidden)
)
async def list_templates(_viewer: Viewer, db: ReadDb) -> list[Any]:
    return await configs.list_templates(db)


@router.post(
    "/templates",
    status_code=201,
    response_model=TemplateOut,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_template(data: TemplateCreate, _admin: Admin, session: DbSession) -> Any:
    return await configs.create_template(session, data)


@router.post(
    "/templates/{template_id}/apply",
    response_model=ConfigBatchOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def apply_template(
    template_id: IntId,
    data: TemplateApply,
    request: Request,
    principal: Writer,
    session: DbSession,
    push: Push,
) -> ConfigBatchOut:
    items = await configs.template_items(session, template_id)
    changes = await configs.apply_items(
        session,
        data.device_ids,
        items,
        actor=_actor(principal),
        change="template",
        secret_key=_secret_key(request),
        owner=principal.owner,
    )
    _push_all(push, changes)
    return ConfigBatchOut(devices=len(set(data.device_ids)), changed=len(changes))


@router.get(
    "/{config_id}/history",
    response_model=list[ConfigHistoryOut],
    responses=error_responses(Unauthorized, NotFound),
)
async def history(config_id: IntId, request: Request, principal: Viewer, db: ReadDb) -> list[dict[str, Any]]:
    """Every version of the key, newest first."""
    _config, rows = await configs.history(db, config_id, owner=principal.owner)
    return [
        configs.view_history(row, reveal=principal.is_admin, secret_key=_secret_key(request)) for row in rows
    ]


@router.post(
    "/{config_id}/rollback",
    response_model=ConfigOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def rollback(
    config_id: IntId,
    data: ConfigRollback,
    request: Request,
    principal: Writer,
    session: DbSession,
    push: Push,
) -> dict[str, Any]:
    """Set the key back to an earlier version's value, as a new version. Who may is checked as
    for setting it (encrypted or module-wide: admins; a `user`: their badges' keys), before
    anything changes."""
    config, change = await configs.rollback(
        session,
        config_id,
        data.version,
        actor=_actor(principal),
        secret_key=_secret_key(request),
        admin=principal.is_admin,
        owner=principal.owner,
    )
    _push_all(push, [change] if change else [])
    return configs.view(config, reveal=principal.is_admin, secret_key=_secret_key(request))
