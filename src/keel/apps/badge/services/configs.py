"""The config centre: keys per device and per module, typed and validated (against the
module's JSON Schema where it has one), every change a new version with history and rollback,
batch changes, templates, and values encrypted at rest that only admins and the device see.

The device's own keys form its shadow (issue 17 item 6): each key's `version` is desired, its
`reported_version` what the device said it applied; the keys where they differ are the delta,
pushed again whenever the device comes back online until it reports them applied."""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import orjson
from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from keel.apps.badge.models import Config, ConfigHistory, ConfigTemplate, Device, Module
from keel.apps.badge.schemas import ConfigReportedIn
from keel.apps.badge.schemas.configs import ConfigItem, ConfigSet, TemplateCreate
from keel.apps.badge.services import crypto, devices
from keel.core.db import Executor
from keel.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from keel.core.pagination import PageRequest, fetch_page, page_of

_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_BOOLS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


@dataclass(frozen=True, slots=True)
class Change:
    """A committed change, for the push to the device."""

    device_id: str
    config_key: str
    config_value: str
    module_name: str | None
    version: str
    # The device's desired version once this change is in (the shadow's).
    config_version: str | None = None


def now_text() -> str:
    """The spec's timestamps: ISO 8601 in UTC with a Z."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def message(change: Change) -> dict[str, Any]:
    """The `config/update` payload (spec 004), with the key's module and version."""
    return {
        "config_key": change.config_key,
        "config_value": change.config_value,
        "module": change.module_name,
        "version": change.version,
        "config_version": change.config_version,
        "timestamp": now_text(),
    }


def typed_value(config_type: str, value: str) -> tuple[Any, str]:
    """The value as its type, and the text it is stored as; ValueError says what is wrong."""
    if config_type == "integer":
        if not _INTEGER.match(value.strip()):
            raise ValueError(f"{value!r} is not an integer")
        number = int(value)
        return number, str(number)
    if config_type == "float":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError("a float must be finite")
        return number, repr(number)
    if config_type == "bool":
        if value.strip().lower() not in _BOOLS:
            raise ValueError(f"{value!r} is not a bool (true or false)")
        flag = _BOOLS[value.strip().lower()]
        return flag, "true" if flag else "false"
    if config_type == "json":
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("config_value is not valid JSON") from None
        return document, value
    return value, value


async def _check_against_module(session: AsyncSession, module_name: str, key: str, value: Any) -> None:
    module = (
        await session.execute(select(Module).where(Module.module_name == module_name))
    ).scalar_one_or_none()
    if module is None:
        raise Unprocessable(f"No module {module_name!r}", loc=("body", "module_name"))
    schema = module.config_schema or {}
    properties = schema.get("properties") or {}
    if key not in properties:
        if schema.get("additionalProperties") is False:
            raise Unprocessable(f"Module {module_name} has no config key {key!r}", loc=("body", "config_key"))
        return
    errors = [error.message for error in jsonschema_rs.validator_for(properties[key]).iter_errors(value)]
    if errors:
        raise Unprocessable(f"{key}: {'; '.join(errors)}", loc=("body", "config_value"))


async def set_config(
    session: AsyncSession,
    data: ConfigSet | ConfigItem,
    *,
    device_id: str | None,
    actor: str,
    change: str,
    secret_key: str,
    is_encrypted: bool = False,
) -> tuple[Config, Change | None]:
    try:
        value, stored = typed_value(data.config_type.value, data.config_value)
    except ValueError as error:
        raise Unprocessable(str(error), loc=("body", "config_value")) from None
    if data.module_name is not None:
        await _check_against_module(session, data.module_name, data.config_key, value)
    device = None
    if device_id is not None:
        device = (
            await session.execute(select(Device).where(Device.device_id == device_id).with_for_update())
        ).scalar_one_or_none()
        if device is None:
            raise NotFound(f"No device {device_id!r}")
    if is_encrypted:
        stored = crypto.encrypt(secret_key, stored)
    config = (
        await session.execute(
            select(Config)
            .where(
                Config.device_id.is_(None) if device_id is None else Config.device_id == device_id,
                Config.module_name.is_(None)
                if data.module_name is None
                else Config.module_name == data.module_name,
                Config.config_key == data.config_key,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if config is None:
        config = Config(
            device_id=device_id,
            module_name=data.module_name,
            config_key=data.config_key,
            config_value=stored,
            config_type=data.config_type.value,
            is_encrypted=is_encrypted,
            version="1",
        )
        session.add(config)
    else:
        config.config_value = stored
        config.config_type = data.config_type.value
        config.is_encrypted = is_encrypted
        config.version = str(int(config.version) + 1)
    await session.flush()
    session.add(
        ConfigHistory(
            config_id=config.id,
            version=config.version,
            config_value=stored,
            config_type=config.config_type,
            is_encrypted=is_encrypted,
            changed_by=actor,
            change=change,
        )
    )
    pushed = None
    if device is not None:
        # The desired side of the shadow; config_version moves when the device reports it applied.
        device.desired_config_version = str(int(device.desired_config_version or 0) + 1)
        plain = crypto.decrypt(secret_key, stored) if is_encrypted else stored
        pushed = Change(
            device.device_id,
            config.config_key,
            plain,
            config.module_name,
            config.version,
            device.desired_config_version,
        )
    await session.flush()
    return config, pushed


def view(row: Any, *, reveal: bool, secret_key: str) -> dict[str, Any]:
    """A config as answered: an encrypted value in clear for those allowed, else null."""
    fields = {key: getattr(row, key) for key in Config.__table__.columns.keys()}
    fields["config_value"] = _answered_value(row, reveal=reveal, secret_key=secret_key)
    return fields


async def list_configs(
    db: Executor, *, device_id: str | None, module_name: str | None, effective: bool, owner: int | None = None
) -> list[Any]:
    """With `effective`, a device's own keys and the module-wide keys that apply to every device.
    With an `owner`, only the keys of that user's devices and the module-wide ones."""
    statement = select(*Config.__table__.columns).order_by(Config.id)
    if owner is not None:
        statement = statement.where(
            or_(Config.device_id.is_(None), Config.device_id.in_(devices.owned_by(owner)))
        )
    if device_id is not None:
        own = Config.device_id == device_id
        statement = statement.where(or_(own, Config.device_id.is_(None)) if effective else own)
    if module_name is not None:
        statement = statement.where(Config.module_name == module_name)
    return list((await db.execute(statement)).all())


# The config centre's scopes: every badge (no device, no module), every badge using a module, one badge.
SCOPES = {
    "global": lambda: (Config.device_id.is_(None), Config.module_name.is_(None)),
    "module": lambda: (Config.device_id.is_(None), Config.module_name.is_not(None)),
    "device": lambda: (Config.device_id.is_not(None),),
}


async def search_configs(
    db: Executor,
    page: PageRequest,
    *,
    scope: str | None,
    device_id: str | None,
    module_name: str | None,
    q: str | None,
    owner: int | None,
    reveal: bool,
    secret_key: str,
) -> dict[str, Any]:
    """One page of keys by scope, badge, module and part of the key, as `list_configs` shows
    them to the same caller; oldest first, like it."""
    statement = select(*Config.__table__.columns).order_by(Config.id)
    if owner is not None:
        statement = statement.where(
            or_(Config.device_id.is_(None), Config.device_id.in_(devices.owned_by(owner)))
        )
    if scope is not None:
        statement = statement.where(*SCOPES[scope]())
    if device_id is not None:
        statement = statement.where(Config.device_id == device_id)
    if module_name is not None:
        statement = statement.where(Config.module_name == module_name)
    if q:
        statement = statement.where(Config.config_key.icontains(q, autoescape=True))
    rows, total = await fetch_page(db, statement, page)
    items = [view(row, reveal=reveal, secret_key=secret_key) for row in rows]
    return page_of(items, total, page).model_dump()


async def check_change(
    db: Executor, *, device_id: str | None, encrypted: bool, admin: bool, owner: int | None
) -> None:
    """Whether the caller may change a key, asked before anything changes (issue 17 item 8):
    encrypted values and module-wide keys (every badge using the module) are for admins; a
    `user` changes only the keys of badges bound to them (another's is 404)."""
    if encrypted and not admin:
        raise Forbidden("Only admins change encrypted values")
    if device_id is None and not admin:
        raise Forbidden("A module-wide key applies to every badge using the module: only admins change it")
    if device_id is not None:
        await devices.require_device(db, device_id, owner)


async def history(db: Executor, config_id: int, *, owner: int | None) -> tuple[Any, list[Any]]:
    config = (await db.execute(select(*Config.__table__.columns).where(Config.id == config_id))).first()
    if config is None:
        raise NotFound(f"No config {config_id}")
    if owner is not None and config.device_id is not None:
        await devices.require_device(db, config.device_id, owner)
    rows = (
        await db.execute(
            select(*ConfigHistory.__table__.columns)
            .where(ConfigHistory.config_id == config_id)
            .order_by(ConfigHistory.id.desc())
        )
    ).all()
    return config, list(rows)


async def rollback(
    session: AsyncSession,
    config_id: int,
    version: str,
    *,
    actor: str,
    secret_key: str,
    admin: bool,
    owner: int | None,
) -> tuple[Config, Change | None]:
    config = await session.get(Config, config_id)
    if config is None:
        raise NotFound(f"No config {config_id}")
    if owner is not None and config.device_id is not None:
        await devices.require_device(session, config.device_id, owner)
    old = (
        await session.execute(
            select(ConfigHistory).where(
                ConfigHistory.config_id == config_id, ConfigHistory.version == version
            )
        )
    ).scalar_one_or_none()
    if old is None:
        raise NotFound(f"Config {config_id} has no version {version}")
    # Before anything changes: the key as it is and the value it would get back.
    encrypted = config.is_encrypted or old.is_encrypted
    await check_change(session, device_id=config.device_id, encrypted=encrypted, admin=admin, owner=owner)
    if version == config.version:
        raise Conflict(f"Config {config_id} is already at version {version}")
    value = crypto.decrypt(secret_key, old.config_value) if old.is_encrypted else old.config_value
    data = ConfigItem(
        config_key=config.config_key,
        config_value=value,
        config_type=old.config_type,
        module_name=config.module_name,
    )
    return await set_config(
        session,
        data,
        device_id=config.device_id,
        actor=actor,
        change="rollback",
        secret_key=secret_key,
        is_encrypted=old.is_encrypted,
    )


async def apply_items(
    session: AsyncSession,
    device_ids: list[str],
    items: list[ConfigItem],
    *,
    actor: str,
    change: str,
    secret_key: str,
    owner: int | None,
) -> list[Change]:
    """Every item on every device, in the caller's one transaction: all or nothing (404 before
    any change when a device does not exist or, with an `owner`, is not that user's)."""
    await devices.require_devices(session, device_ids, owner)
    wanted = list(dict.fromkeys(device_ids))
    changes = []
    for device_id in sorted(wanted):  # locks taken in one order, whatever the request's order
        for item in items:
            _config, pushed = await set_config(
                session, item, device_id=device_id, actor=actor, change=change, secret_key=secret_key
            )
            if pushed is not None:
                changes.append(pushed)
    return changes


async def create_template(session: AsyncSession, data: TemplateCreate) -> ConfigTemplate:
    if (await session.execute(select(ConfigTemplate.id).where(ConfigTemplate.name == data.name))).first():
        raise Conflict(f"Template {data.name!r} already exists")
    for item in data.items:
        try:
            typed_value(item.config_type.value, item.config_value)
        except ValueError as error:
            raise Unprocessable(f"{item.config_key}: {error}", loc=("body", "items")) from None
    template = ConfigTemplate(
        name=data.name,
        description=data.description,
        items=[item.model_dump(mode="json") for item in data.items],
    )
    session.add(template)
    await session.flush()
    return template


async def template_items(session: AsyncSession, template_id: int) -> list[ConfigItem]:
    template = await session.get(ConfigTemplate, template_id)
    if template is None:
        raise NotFound(f"No template {template_id}")
    return [ConfigItem.model_validate(item) for item in template.items]


async def list_templates(db: Executor) -> list[Any]:
    return list(
        (await db.execute(select(*ConfigTemplate.__table__.columns).order_by(ConfigTemplate.id))).all()
    )


def view_history(row: Any, *, reveal: bool, secret_key: str) -> dict[str, Any]:
    fields = dict(row._mapping)
    fields["config_value"] = _answered_value(row, reveal=reveal, secret_key=secret_key)
    return fields


def _answered_value(row: Any, *, reveal: bool, secret_key: str) -> str | None:
    """An encrypted value in clear for those allowed, else null; a plain value as stored."""
    return _plain(row, secret_key) if reveal or not row.is_encrypted else None


def _plain(row: Any, secret_key: str) -> str:
    return crypto.decrypt(secret_key, row.config_value) if row.is_encrypted else row.config_value


# --- the shadow (issue 17 item 6) ------------------------------------------------------------

_configs, _devices = Config.__table__, Device.__table__
_pending = or_(_configs.c.reported_version.is_(None), _configs.c.reported_version != _configs.c.version)
_report = (
    update(_configs)
    .where(
        _configs.c.device_id == bindparam("b_device_id"),
        func.coalesce(_configs.c.module_name, "") == bindparam("b_module"),
        _configs.c.config_key == bindparam("b_key"),
    )
    # updated_at dates the desired value; a report must not move it.
    .values(
        reported_version=bindparam("b_version"),
        reported_at=bindparam("b_at"),
        updated_at=_configs.c.updated_at,
    )
)
_settle = (
    update(_devices)
    .where(
        _devices.c.device_id.in_(bindparam("b_device_ids", expanding=True)),
        ~exists().where(_configs.c.device_id == _devices.c.device_id, _pending),
    )
    .values(config_version=_devices.c.desired_config_version, updated_at=_devices.c.updated_at)
)


async def delta(db: Executor | AsyncConnection, device_ids: set[str], *, secret_key: str) -> list[Change]:
    """The changes each device has not reported applied, as `config/update` pushes carry them."""
    if not device_ids:
        return []
    rows = await db.execute(
        select(_configs, _devices.c.desired_config_version)
        .join(_devices, _devices.c.device_id == _configs.c.device_id)
        .where(_configs.c.device_id.in_(device_ids), _pending)
        .order_by(_configs.c.device_id, _configs.c.id)
    )
    return [
        Change(
            row.device_id,
            row.config_key,
            _plain(row, secret_key),
            row.module_name,
            row.version,
            row.desired_config_version,
        )
        for row in rows
    ]


async def report_applied(
    connection: AsyncConnection, reports: list[tuple[str, ConfigReportedIn]], now: datetime
) -> None:
    """Record what devices say they applied; a device with no delta left has its config_version
    moved to its desired version. Keys the device does not have are ignored."""
    rows = [
        {
            "b_device_id": device_id,
            "b_module": item.module or "",
            "b_key": item.config_key,
            "b_version": item.version,
            "b_at": now,
        }
        for device_id, report in sorted(reports, key=lambda pair: pair[0])
        for item in report.applied
    ]
    await connection.execute(_report, rows)
    await connection.execute(_settle, {"b_device_ids": sorted({device_id for device_id, _ in reports})})


async def shadow(db: Executor, device_id: str, *, reveal: bool, secret_key: str) -> dict[str, Any]:
    device = (
        await db.execute(
            select(_devices.c.desired_config_version, _devices.c.config_version).where(
                _devices.c.device_id == device_id
            )
        )
    ).first()
    if device is None:
        raise NotFound(f"No device {device_id!r}")
    rows = (
        await db.execute(select(_configs).where(_configs.c.device_id == device_id).order_by(_configs.c.id))
    ).all()
    keys = [view(row, reveal=reveal, secret_key=secret_key) for row in rows]
    return {
        "device_id": device_id,
        "desired_version": device.desired_config_version,
        "config_version": device.config_version,
        "desired": keys,
        "reported": [key for key in keys if key["reported_version"] is not None],
        "delta": [key for key in keys if key["reported_version"] != key["version"]],
    }
