"""Request parameter and body building blocks shared by every app's schemas and routes."""

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator, model_validator

# Identifiers fit a 32-bit INT on every dialect; anything larger is a client error, not a crash.
MAX_INT_ID = 2**31 - 1
IntId = Annotated[int, Path(ge=1, le=MAX_INT_ID)]
# For BIGINT keys (the shop's orders, AUTO_RANDOM on TiDB).
MAX_BIGINT_ID = 2**63 - 1
BigIntId = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID)]


def as_utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC (the specs' rule); one with a zone is moved to UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# A datetime a client sends, in a query or a body: accepted with or without a zone, always
# aware UTC once parsed. Fields whose spec demands a zone use pydantic's AwareDatetime instead.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


def reject_nul(value: Any) -> Any:
    # PostgreSQL refuses NUL in text (and in JSON text); rejecting it here gives the client a
    # 422 that says so. Strings inside lists and dicts count: a meal's `items` is a JSON list.
    if _has_nul(value):
        raise ValueError("must not contain NUL characters")
    return value


def _has_nul(value: Any) -> bool:
    match value:
        case str():
            return "\x00" in value
        case list() | tuple() | set() | frozenset():
            return any(_has_nul(each) for each in value)
        case dict():
            return any(_has_nul(key) or _has_nul(each) for key, each in value.items())
    return False


class Schema(BaseModel):
    """Base of request bodies: no NUL characters in any text field, and no explicit null for
    the fields a partial update may leave out but not empty (`not_nullable`)."""

    model_config = ConfigDict(from_attributes=True)
    not_nullable: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return reject_nul(value)

    @model_validator(mode="after")
    def _no_null_for_required_columns(self) -> Self:
        emptied = [
            name
            for name in self.not_nullable
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if emptied:
            raise ValueError(f"{', '.join(emptied)} can be changed but not set to null")
        return self
