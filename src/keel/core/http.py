"""HTTP at the edge of every app: CORS for browser clients, request body limits enforced while
the body streams in, and gzip-encoded request bodies decoded within the same limit.

Body limits: every app refuses a body past `KEEL_MAX_BODY_BYTES` (413); a route whose spec needs
more declares it beside itself with `@body_limit(...)`. The limit is checked as each
`http.request` message arrives, never after reading the whole body: a Content-Length that already
says too much is refused before the first byte is read, a chunked body as soon as it passes the
limit. A `Content-Encoding: gzip` body is inflated as it arrives, at most one byte past the limit,
so both the bytes sent and the bytes decoded stay within it (no zip bombs).
"""

import zlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# --- CORS ------------------------------------------------------------------------------------

CORS_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# The request headers the apps read, beyond those browsers always allow: bearer tokens, the
# idempotency keys, badge's signed requests and provisioning key, conditional edits, gzip bodies.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Content-Encoding",
    "Idempotency-Key",
    "X-Idempotency-Key",
    "X-Timestamp",
    "X-Signature",
    "X-Provisioning-Key",
    "X-Request-ID",
    "If-Match",
    "If-None-Match",
)
# The response headers a browser client must be able to read: rate limits, the request id to
# quote in a bug report, firmware downloads' checksum and version, file names, ETags, a bare
# list's total.
CORS_EXPOSED_HEADERS = (
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "X-Request-ID",
    "X-Checksum",
    "X-Version",
    "Content-Disposition",
    "ETag",
    "X-Total-Count",
)


# Headers any page may send without asking (the Fetch standard's CORS-safelisted ones).
_SAFELISTED = (b"accept", b"accept-language", b"content-language", b"content-type")


def _joined(names: Sequence[str]) -> bytes:
    return ", ".join(names).encode()


class Cors:
    """Pure ASGI: answers preflights for the allowed origins and marks their answers readable;
    any other origin gets no Access-Control-Allow-Origin (and a refused preflight, 400 in JSON).

    A request without `Origin` (phones, devices, servers) only gets `Vary: Origin`, and nothing
    at all when no origin is allowed. Not Starlette's CORSMiddleware: it built mutable header
    objects for every response, ~16 us a request here.
    No credentials: tokens travel as bearer tokens, never cookies, so a page on an allowed origin
    can only act with a token it holds, and a page on any other origin reads nothing.
    """

    def __init__(self, app: ASGIApp, origins: Sequence[str]):
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(origin.encode() for origin in origins)
        self.methods = frozenset(method.encode() for method in CORS_METHODS)
        self.request_headers = frozenset(
            [*(name.lower().encode() for name in CORS_REQUEST_HEADERS), *_SAFELISTED]
        )
        self.preflight_headers = [
            (b"access-control-allow-methods", _joined(CORS_METHODS)),
            (b"access-control-allow-headers", _joined(CORS_REQUEST_HEADERS)),
            (b"access-control-max-age", b"600"),
        ]
        self.exposed = (b"access-control-expose-headers", _joined(CORS_EXPOSED_HEADERS))
        # With a list of origins the answer depends on the request's Origin, so caches must
        # key on it, for requests without one too.
        self.vary = None if self.any_origin or not origins else (b"vary", b"Origin")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = requested_method = requested_headers = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                requested_method = value
            elif name == b"access-control-request-headers":
                requested_headers = value
        if origin is not None and requested_method is not None and scope["method"] == "OPTIONS":
            await self._preflight(origin, requested_method, requested_headers)(scope, receive, send)
            return
        added = []
        if origin is not None and (self.any_origin or origin in self.origins):
            added = [(b"access-control-allow-origin", b"*" if self.any_origin else origin), self.exposed]
        if self.vary is not None:
            added.append(self.vary)
        if not added:
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_marked)

    def _preflight(self, origin: bytes, method: bytes, requested: bytes | None) -> Response:
        refused = []
        if not (self.any_origin or origin in self.origins):
            refused.append("origin")
        if method not in self.methods:
            refused.append("method")
        names = (name.strip().lower() for name in (requested or b"").split(b","))
        if any(name and name not in self.request_headers for name in names):
            refused.append("headers")
        headers = {"Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
        if refused:
            return JSONResponse({"detail": f"CORS preflight refused: {', '.join(refused)}"}, 400, headers)
        response = Response(status_code=204, headers=headers)
        allowed = b"*" if self.any_origin else origin
        response.raw_headers += [(b"access-control-allow-origin", allowed), *self.preflight_headers]
        return response


# --- body limits -----------------------------------------------------------------------------

MiB = 1024 * 1024
# What a multipart form adds around one file: boundaries, part headers and a few small fields.
FORM_OVERHEAD = 64 * 1024

_LIMIT = "__keel_body_limit__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def describe_size(limit: int) -> str:
    """`5 MB (5,242,880 bytes)`: the rounded size people read and the exact one machines check."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit} ({limit:,} bytes)"
    return f"{limit:,} bytes"


def body_limit(limit: int) -> Callable[[Endpoint], Endpoint]:
    """Lets a route take a body of up to `limit` bytes (decoded), where its spec needs more than
    `KEEL_MAX_BODY_BYTES`; the larger of the two holds. Put it under the route's decorator."""

    def declare(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _LIMIT, limit)
        return endpoint

    return declare


# Starlette HTTPExceptions, not keel's domain errors: FastAPI re-raises only those from its
# reading of the body (anything else becomes a generic 400); the app's handler renders them.
class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"The request body is too large: at most {describe_size(limit)} is accepted")


class BadGzip(HTTPException):
    def __init__(self, reason: str):
        super().__init__(400, f"The request body is not valid gzip: {reason}")


class UnsupportedEncoding(HTTPException):
    def __init__(self, encoding: str):
        super().__init__(415, f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding")


_GZIP = (b"gzip", b"x-gzip")  # RFC 9110: x-gzip is the same coding


class RequestBodies:
    """Pure ASGI, around each app's routes (KeelApp.build). A request whose Content-Length is
    within the default limit and that is not encoded passes untouched: uvicorn hands the app
    exactly Content-Length bytes, and a request with neither Content-Length nor
    Transfer-Encoding has no body (HTTP/1.1). Any other request reads through `_LimitedBody`."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: int | None = None
        chunked = False
        encoding: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-encoding":
                encoding = value.strip().lower()
                if encoding == b"identity":
                    encoding = None
        if encoding is None and not chunked and (length is None or length <= self.max_body_bytes):
            await self.app(scope, receive, send)
            return
        body = _LimitedBody(scope, receive, self.max_body_bytes, length, encoding)
        if encoding in _GZIP:
            # Downstream sees the decoded body, whose length is not known yet.
            scope["headers"] = [
                (name, value)
                for name, value in scope["headers"]
                if name not in (b"content-encoding", b"content-length")
            ]
        await self.app(scope, body.receive, send)


class _LimitedBody:
    """One request's body, counted (and inflated) as the app reads it."""

    __slots__ = (
        "_inflater",
        "_limit",
        "_receive",
        "default",
        "encoding",
        "inflated",
        "length",
        "received",
        "scope",
    )

    def __init__(
        self, scope: Scope, receive: Receive, default: int, length: int | None, encoding: bytes | None
    ):
        self.scope = scope
        self._receive = receive
        self.default = default
        self.length = length
        self.encoding = encoding
        self.received = 0
        self.inflated = 0
        self._limit: int | None = None
        # wbits 16 + 15: a gzip header and trailer around deflate, a window of up to 32 KB.
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in _GZIP else None

    def limit(self) -> int:
        # Known once the app has routed the request, which it has before it reads the body:
        # routing leaves the route's endpoint in the scope.
        if self._limit is None:
            self._limit = max(self.default, getattr(self.scope.get("endpoint"), _LIMIT, 0))
        return self._limit

    async def receive(self) -> Message:
        limit = self.limit()
        if self.encoding is not None and self._inflater is None:
            raise UnsupportedEncoding(self.encoding.decode("latin-1"))
        if self.length is not None and self.length > limit:
            raise BodyTooLarge(limit)  # before a single byte is read
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        self.received += len(chunk)
        if self.received > limit:
            raise BodyTooLarge(limit)
        if self._inflater is not None:
            message["body"] = self._inflate(chunk, limit, more=message.get("more_body", False))
        return message

    def _inflate(self, chunk: bytes, limit: int, *, more: bool) -> bytes:
        inflater = self._inflater
        assert inflater is not None
        try:
            # At most one byte past the limit is ever inflated, however well the chunk packs.
            decoded = inflater.decompress(chunk, limit - self.inflated + 1)
        except zlib.error as error:
            raise BadGzip(str(error)) from error
        self.inflated += len(decoded)
        if self.inflated > limit:
            raise BodyTooLarge(limit)
        if inflater.unused_data:
            raise BadGzip("data after the end of the stream")
        if not more and self.received and not inflater.eof:
            raise BadGzip("the stream ends early")
        return decoded
