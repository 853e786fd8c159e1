"""The badge API's config centre bodies (spec 004); the types every area uses are in the package."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from keel.apps.badge.schemas import ConfigKey, ConfigType, DeviceId, Name, bounded_text
from keel.core.params import Schema
from keel.core.schemas import ORM


class ConfigSet(Schema):
    """The body of `PUT /devices/{device_id}/config` (the spec's) and of the config centre."""

    config_key: ConfigKey
    config_value: Annotated[str, StringConstraints(max_length=65_536)]
    config_type: ConfigType = ConfigType.string
    module_name: Name | None = None
    is_encrypted: bool = False


class ConfigCentreSet(ConfigSet):
    device_id: DeviceId | None = None


class ConfigOut(BaseModel):
    id: int
    device_id: str | None
    module_name: str | None
    config_key: str
    config_value: str | None
    config_type: str
    is_encrypted: bool
    version: str
    created_at: datetime
    updated_at: datetime
    # Issue 17 item 6: what the device reported applied (its own keys only).
    reported_version: str | None = None
    reported_at: datetime | None = None


class ConfigScope(StrEnum):
    """Every badge (no device, no module), every badge using a module, or one badge."""

    global_ = "global"
    module = "module"
    device = "device"


class ConfigPage(BaseModel):
    items: list[ConfigOut]
    total: int
    page: int
    limit: int
    total_pages: int


class ConfigHistoryOut(BaseModel):
    version: str
    config_value: str | None
    config_type: str
    is_encrypted: bool
    changed_by: str | None
    change: str
    changed_at: datetime


class ConfigRollback(Schema):
    version: Annotated[str, StringConstraints(pattern=r"^\d{1,9}$")]


class ConfigItem(Schema):
    config_key: ConfigKey
    config_value: Annotated[str, StringConstraints(max_length=65_536)]
    config_type: ConfigType = ConfigType.string
    module_name: Name | None = None


class ConfigBatch(Schema):
    device_ids: list[DeviceId] = Field(min_length=1, max_length=1000)
    items: list[ConfigItem] = Field(min_length=1, max_length=100)


class ConfigBatchOut(BaseModel):
    devices: int
    changed: int


class TemplateCreate(Schema):
    name: Name
    description: bounded_text(10_000) | None = None
    items: list[ConfigItem] = Field(min_length=1, max_length=100)


class TemplateOut(ORM):
    id: int
    name: str
    description: str | None
    items: list[dict[str, Any]]
    created_at: datetime


class TemplateApply(Schema):
    device_ids: list[DeviceId] = Field(min_length=1, max_length=1000)
