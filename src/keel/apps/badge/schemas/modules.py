"""The badge API's module registry bodies (spec 004); the types every area uses are in the package."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from keel.apps.badge.schemas import Name, Semver, bounded_text
from keel.core.params import Schema
from keel.core.schemas import ORM


class ModuleCreate(Schema):
    module_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    module_type: bounded_text(32)
    module_version: Semver
    description: bounded_text(10_000) | None = None
    dependencies: dict[str, Annotated[str, StringConstraints(max_length=64)]] | None = None
    config_schema: dict[str, Any] | None = None
    api_endpoints: list[Any] | None = None
    download_url: Annotated[str, StringConstraints(max_length=256)] | None = None
    checksum: Annotated[str, StringConstraints(max_length=64)] | None = None


class ModuleUpdate(Schema):
    not_nullable = ("module_type", "module_version", "is_active")

    module_type: bounded_text(32) | None = None
    module_version: Semver | None = None
    description: bounded_text(10_000) | None = None
    dependencies: dict[str, Annotated[str, StringConstraints(max_length=64)]] | None = None
    config_schema: dict[str, Any] | None = None
    api_endpoints: list[Any] | None = None
    download_url: Annotated[str, StringConstraints(max_length=256)] | None = None
    checksum: Annotated[str, StringConstraints(max_length=64)] | None = None
    is_active: bool | None = None


class ModuleOut(ORM):
    id: int
    module_name: str
    module_type: str
    module_version: str
    description: str | None
    dependencies: dict[str, Any] | None
    config_schema: dict[str, Any] | None
    api_endpoints: list[Any] | None
    created_at: datetime
    updated_at: datetime
    is_active: bool
    download_url: str | None
    checksum: str | None


class ModuleRequirement(Schema):
    module_name: Name
    version: Semver | None = None


class CompatibilityRequest(Schema):
    modules: list[ModuleRequirement] = Field(min_length=1, max_length=200)


class Missing(BaseModel):
    module_name: str
    required_by: str | None
    constraint: str | None


class Conflicting(BaseModel):
    module_name: str
    required_by: str | None
    constraint: str
    available: str


class CompatibilityOut(BaseModel):
    compatible: bool
    resolved: dict[str, str]
    missing: list[Missing]
    conflicts: list[Conflicting]
