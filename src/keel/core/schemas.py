"""Answer bodies every app shares: the plain `{"message": ...}` and the base of bodies read
from ORM rows. (Request bodies start from `keel.core.params.Schema`.)"""

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    message: str


class ORM(BaseModel):
    """An answer built from a row or entity by attribute (`Model.model_validate(row)`)."""

    model_config = ConfigDict(from_attributes=True)
