"""Request ids, one JSON log line per request, and Prometheus metrics, in one ASGI middleware
(pure ASGI: no per-request task or body buffering on the hot path)."""

import logging
import os
import secrets
import sys
import time
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_request_id: ContextVar[str | None] = ContextVar("keel_request_id", default=None)

REQUESTS = Counter("keel_http_requests_total", "HTTP requests answered", ["app", "route", "method", "status"])
LATENCY = Histogram(
    "keel_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["app", "route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

access_log = logging.getLogger("keel.access")
log = logging.getLogger("keel")


def current_request_id() -> str | None:
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = _request_id.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in self._STANDARD:
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would be a second, unstructured line per request.
    logging.getLogger("uvicorn.access").disabled = True


def _route_labels(scope: Scope) -> tuple[str, str]:
    app = scope.get("app")
    slug = getattr(getattr(app, "state", None), "slug", None) or "keel"
    route = scope.get("route")
    return slug, getattr(route, "path", None) or "unmatched"


class ObservabilityMiddleware:
    """Gives every request an id (kept from `X-Request-ID` when the caller sent a sane one),
    returns it, counts and times the request under its route template, and logs one line."""

    def __init__(self, app: ASGIApp, *, access_log_enabled: bool = True):
        self.app = app
        self.access_log_enabled = access_log_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or secrets.token_hex(16)
        token = _request_id.set(request_id)
        header = (b"x-request-id", request_id.encode())
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The app's own handler has already answered 500 with this request id; the error
            # was logged there, so it stops here instead of reaching the server's log twice.
            status = 500
        finally:
            elapsed = time.perf_counter() - started
            slug, route = _route_labels(scope)
            method = scope["method"]
            counted, timed = _series(slug, route, method, status)
            counted.inc()
            timed.observe(elapsed)
            if self.access_log_enabled:
                access_log.info(
                    "request",
                    extra={
                        "app": slug,
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            _request_id.reset(token)


@lru_cache(maxsize=4096)
def _series(slug: str, route: str, method: str, status: int) -> tuple[Any, Any]:
    """The labelled counter and histogram of one route and outcome, looked up once: labels()
    takes a lock and builds a key on every call. Route templates keep the set small."""
    return REQUESTS.labels(slug, route, method, str(status)), LATENCY.labels(slug, route, method)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if 0 < len(candidate) <= 128 and candidate.isprintable():
                return candidate
    return None


def metrics_payload() -> tuple[bytes, str]:
    """Prometheus text; across all worker processes when uvicorn runs several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
