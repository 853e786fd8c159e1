"""JSON out of keel: orjson, for responses built by hand and for JSON columns."""

import uuid
from typing import Any

import orjson
from starlette.responses import Response


def _default(value: Any) -> Any:
    # Database drivers hand back their own UUID subclasses (asyncpg does), which orjson only
    # takes for uuid.UUID when told.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


class FastJSONResponse(Response):
    """A JSON response written by orjson: for large answers a route builds as plain data (the
    route's `response_model` still documents it)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
