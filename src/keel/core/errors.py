"""Domain errors carry their HTTP status; one set of handlers renders every error as JSON."""

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from keel.core.observability import current_request_id

log = logging.getLogger("keel.errors")


class ErrorDetail(BaseModel):
    detail: str
    code: str | None = None


# Stable codes beside `detail`, for clients that map errors to messages (an app opts in with
# `KeelApp(error_codes=True)`; the others keep their bodies exactly as they were).
CODES_BY_STATUS = {
    400: "validation_error",
    401: "unauthorized",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    500: "server_error",
    503: "service_unavailable",
}


def error_code(status_code: int) -> str:
    return CODES_BY_STATUS.get(status_code, "server_error" if status_code >= 500 else "client_error")


def _json(request: Request, body: dict[str, Any], status_code: int, headers: Any = None) -> JSONResponse:
    if getattr(request.app.state, "error_codes", False):
        body = {**body, "code": error_code(status_code)}
    return JSONResponse(body, status_code=status_code, headers=headers)


class KeelError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail}


class BadRequest(KeelError):
    status_code = 400


class Unauthorized(KeelError):
    status_code = 401

    def __init__(self, detail: str = "Not authenticated"):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class PaymentRequired(KeelError):
    """The payment was refused (a declined card, say): the detail gives the provider's reason."""

    status_code = 402


class Forbidden(KeelError):
    status_code = 403


class NotFound(KeelError):
    status_code = 404


class Conflict(KeelError):
    status_code = 409


class Gone(KeelError):
    status_code = 410


class PayloadTooLarge(KeelError):
    status_code = 413


class UnsupportedMediaType(KeelError):
    status_code = 415


class Unprocessable(KeelError):
    """Well-formed input that breaks a rule no schema can express. Rendered in FastAPI's
    422 list shape, so a client parses every 422 the same way."""

    status_code = 422

    def __init__(self, detail: str, *, loc: tuple[str | int, ...] = ("body",)):
        super().__init__(detail)
        self.loc = loc

    def body(self) -> dict[str, Any]:
        return {"detail": [{"type": "value_error", "loc": list(self.loc), "msg": self.detail, "input": None}]}


class PreconditionRequired(KeelError):
    status_code = 428


class TooManyRequests(KeelError):
    status_code = 429


class ServiceUnavailable(KeelError):
    """A service the request depends on (a sign-in provider, say) cannot answer, or a feature
    is not configured on this server: nothing the client can fix by changing the request."""

    status_code = 503


def error_responses(*errors: type[KeelError]) -> dict[int | str, dict[str, object]]:
    """The `responses=` entry that documents which domain errors a route may answer."""
    # 422 stays as FastAPI documents it: every 422 here, Unprocessable too, uses its list shape.
    return {
        e.status_code: {"model": ErrorDetail, "description": e.__name__}
        for e in errors
        if e.status_code != 422
    }


def document_query_errors(schema: dict[str, Any], status: int) -> dict[str, Any]:
    """Make an OpenAPI document say what `_validation_error` does when an app answers a malformed
    query parameter with `status`: each operation with query parameters documents that status in
    FastAPI's list shape; its 422 goes when nothing else (a body, a path or header parameter)
    can still be malformed."""
    validation = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            places = {parameter.get("in") for parameter in operation.get("parameters", [])}
            if "query" not in places:
                continue
            responses = operation.setdefault("responses", {})
            documented = responses.get(str(status))
            if documented is None or "content" not in documented:
                description = documented["description"] if documented else "A malformed query parameter"
                responses[str(status)] = {"description": description, "content": validation}
            else:  # also a domain error of that status (its `detail` a string)
                answer = documented.setdefault("content", {}).setdefault("application/json", {})
                shapes = [answer.get("schema", {}), validation["application/json"]["schema"]]
                answer["schema"] = {"anyOf": [shape for shape in shapes if shape]}
                documented["description"] += "; or a malformed query parameter"
            if "requestBody" not in operation and places <= {"query"}:
                responses.pop("422", None)
    return schema


def _query_error_status(request: Request) -> int:
    # Some specs answer a malformed query parameter with 400 (KeelApp.query_error_status); the
    # body keeps FastAPI's list shape, which says what is wrong.
    return getattr(request.app.state, "query_error_status", 422)


async def _keel_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KeelError)
    status = exc.status_code
    if isinstance(exc, Unprocessable) and exc.loc[0] == "query":
        status = _query_error_status(request)
    return _json(request, exc.body(), status, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _json(request, {"detail": exc.detail}, exc.status_code, getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    response = await request_validation_exception_handler(request, exc)
    query_status = _query_error_status(request)
    if query_status != 422 and all(error["loc"][0] == "query" for error in exc.errors()):
        return _json(request, orjson.loads(response.body), query_status)
    if not getattr(request.app.state, "error_codes", False):
        return response
    return _json(request, orjson.loads(response.body), response.status_code)


def is_refused_value(exc: DBAPIError) -> bool:
    """The database refused a value (bad text, out of range), not the statement or itself."""
    # SQLSTATE class 22 is "data exception"; asyncpg's arrive as plain DBAPIError, not DataError.
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or ""
    return isinstance(exc, DataError) or str(state).startswith("22")


# PostgreSQL's class 53 (insufficient resources: too many connections, out of memory or disk)
# and MySQL's "Too many connections" (1040): the database is full for now, not broken.
_MYSQL_TOO_MANY_CONNECTIONS = 1040


def _is_overloaded(exc: DBAPIError) -> bool:
    state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    mysql_code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return state.startswith("53") or mysql_code == _MYSQL_TOO_MANY_CONNECTIONS


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if _is_overloaded(exc):
        log.warning("database at capacity", extra={"error": str(getattr(exc, "orig", exc))[:500]})
        busy = ServiceUnavailable("The database is at capacity; try again shortly")
        return _json(request, busy.body(), 503, {"Retry-After": "1"})
    if not is_refused_value(exc):
        return await _unhandled_error(request, exc)
    # The database refused a value the schemas let through (too long, out of range, bad
    # encoding): the client's error, logged so the schema can be tightened.
    log.warning("database refused a value", extra={"error": str(getattr(exc, "orig", exc))[:500]})
    refused = Unprocessable("A value is out of range or not allowed", loc=("request",))
    return _json(request, refused.body(), 422)


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = current_request_id()
    # A mounted app's handler answers first and re-raises; the server's handler sees the
    # same error again and must not log it twice.
    if not getattr(exc, "_keel_logged", False):
        log.error("unhandled error", exc_info=exc)
        exc._keel_logged = True  # type: ignore[attr-defined]
    return _json(request, {"detail": "Internal server error", "request_id": request_id}, 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KeelError, _keel_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # FastAPI's own 422 keeps its list shape, which clients already parse.
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unhandled_error)
