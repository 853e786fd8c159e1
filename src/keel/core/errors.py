"""Domain errors carry their HTTP status; one set of handlers renders every error as JSON."""

import logging
from typing import Any

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


class Forbidden(KeelError):
    status_code = 403


class NotFound(KeelError):
    status_code = 404


class Conflict(KeelError):
    status_code = 409


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


async def _keel_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KeelError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


def _is_refused_value(exc: DBAPIError) -> bool:
    # SQLSTATE class 22 is "data exception"; asyncpg's arrive as plain DBAPIError, not DataError.
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or ""
    return isinstance(exc, DataError) or str(state).startswith("22")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if not _is_refused_value(exc):
        return await _unhandled_error(request, exc)
    # The database refused a value the schemas let through (too long, out of range, bad
    # encoding): the client's error, logged so the schema can be tightened.
    log.warning("database refused a value", extra={"error": str(getattr(exc, "orig", exc))[:500]})
    refused = Unprocessable("A value is out of range or not allowed", loc=("request",))
    return JSONResponse(refused.body(), status_code=422)


async def _unhandled_error(_request: Request, exc: Exception) -> JSONResponse:
    request_id = current_request_id()
    # A mounted app's handler answers first and re-raises; the server's handler sees the
    # same error again and must not log it twice.
    if not getattr(exc, "_keel_logged", False):
        log.error("unhandled error", exc_info=exc)
        exc._keel_logged = True  # type: ignore[attr-defined]
    return JSONResponse({"detail": "Internal server error", "request_id": request_id}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KeelError, _keel_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # FastAPI's own 422 keeps its list shape, which clients already parse.
    app.add_exception_handler(RequestValidationError, request_validation_exception_handler)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unhandled_error)
