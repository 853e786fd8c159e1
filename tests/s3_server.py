"""An S3 server for the tests that refuses what S3 refuses: moto's S3 (which checks no signature
and no POST policy) behind a front, on a free loopback port, that verifies every request the
way AWS documents it before handing it to moto, and answers a refusal with S3's status and XML
error. Without it a form or link that real S3 would refuse passes every test.

Written from AWS's documentation ("Signature Version 4 signing process", "Authenticating
requests: using query parameters", "Creating a POST policy"), with hashlib and hmac only: checking
botocore's signatures with botocore's own signer would prove nothing.

- A header-signed request (`Authorization: AWS4-HMAC-SHA256 ...`, botocore's calls): its canonical
  request with `x-amz-content-sha256` as the payload hash (which must be the body's, unless
  `UNSIGNED-PAYLOAD`), its signature, and an `x-amz-date` within 15 minutes of the clock.
- A presigned URL (`X-Amz-Signature` in the query): its expiry first, then its signature over the
  canonical request with `UNSIGNED-PAYLOAD`.
- A form upload (POST to the bucket): the signature over the base64 policy, the policy's
  expiration, every condition (exact, `eq`, `starts-with`, `content-length-range` against the
  file's size), and no field the policy does not name.
- Anything else is anonymous, and the bucket is private: 403.

`clock` is what the front takes for now, so a test can look at a link an hour later without
waiting an hour.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.datastructures import EnvironHeaders
from werkzeug.serving import make_server
from werkzeug.wsgi import get_input_stream

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# How far a header-signed request's x-amz-date may be from the server's clock.
MAX_SKEW = timedelta(minutes=15)
# The longest life a presigned URL may ask for: seven days.
MAX_EXPIRES = 7 * 24 * 3600
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_FORM_FIELDS = ("key", "policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
# The fields a POST policy need not name (the file, and the signature over the policy itself).
_UNCONDITIONED = frozenset({"policy", "x-amz-signature", "file"})


class Refused(Exception):
    """What S3 answers instead of doing the request."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _denied(message: str) -> Refused:
    return Refused(403, "AccessDenied", message)


def _mismatch() -> Refused:
    return Refused(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _uri_encode(text: str, *, keep_slash: bool) -> str:
    # SigV4's encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XY (uppercase), and `/` too
    # except in a path. Python's quote leaves exactly those unreserved characters alone.
    return quote(text, safe="/" if keep_slash else "")


def canonical_query(raw_query: str, *, without: str | None = None) -> str:
    pairs = [
        (_uri_encode(name, keep_slash=False), _uri_encode(value, keep_slash=False))
        for name, value in parse_qsl(raw_query, keep_blank_values=True)
        if name != without
    ]
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _header_value(value: str) -> str:
    return " ".join(value.split())  # trimmed, inner runs of spaces as one


class _Credential:
    """`<access key>/<yyyymmdd>/<region>/s3/aws4_request`, checked against the server's keys."""

    def __init__(self, text: str, amz_date: str, front: "S3Front", error: str):
        parts = text.split("/")
        if len(parts) != 5 or parts[3:] != ["s3", "aws4_request"]:
            raise Refused(400, error, f"The credential is malformed: {text!r}")
        access_key, self.date, region = parts[:3]
        if access_key not in front.credentials:
            raise Refused(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
        if region != front.region:
            raise Refused(400, error, f"The region {region!r} is wrong; expecting {front.region!r}")
        if amz_date[:8] != self.date:
            raise Refused(400, error, "The credential's date is not the date of X-Amz-Date")
        self.scope = "/".join(parts[1:])
        self.key = signing_key(front.credentials[access_key], self.date, region, "s3")

    def check(self, string_to_sign: str, signature: str) -> None:
        expected = hmac.new(self.key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise _mismatch()


def _parse_amz_date(text: str, error: str) -> datetime:
    try:
        return datetime.strptime(text, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise Refused(400, error, f"X-Amz-Date must be in the ISO8601 basic format: {text!r}") from None


class _Request:
    """The parts of a WSGI request a signature covers, as the client sent them."""

    def __init__(self, environ: dict[str, Any], body: bytes):
        self.method = environ["REQUEST_METHOD"]
        raw = urlsplit(environ.get("REQUEST_URI") or environ.get("RAW_URI") or "/")
        # S3 decodes the path once and signs it encoded once: `/bucket/a%20b` stays as sent.
        self.path = unquote(raw.path)
        self.query = raw.query
        self.headers = EnvironHeaders(environ)
        self.body = body

    def canonical(self, signed_headers: str, payload_hash: str, *, without: str | None = None) -> str:
        names = signed_headers.split(";")
        if "host" not in names:
            raise _denied("Host must be a signed header")
        lines = []
        for name in names:
            value = self.headers.get(name)
            if value is None:
                raise _mismatch()
            lines.append(f"{name}:{_header_value(value)}\n")
        return "\n".join(
            [
                self.method,
                _uri_encode(self.path, keep_slash=True),
                canonical_query(self.query, without=without),
                "".join(lines),
                signed_headers,
                payload_hash,
            ]
        )


def _string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return "\n".join([ALGORITHM, amz_date, scope, digest])


_AUTHORIZATION = re.compile(
    ALGORITHM + r" Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})"
)


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """A form's text fields (names lowercased) up to its file, and the file's bytes.

    S3 ignores every field after the file, so they are not read.
    """
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise Refused(400, "MalformedPOSTRequest", "The body is not a well-formed multipart form")
    delimiter = b"--" + match[1].encode()
    fields: dict[str, str] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, separator, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = re.search(rb'name="([^"]*)"', head)
        if not separator or not content.endswith(b"\r\n") or disposition is None:
            raise Refused(400, "MalformedPOSTRequest", "The body is not a well-formed multipart form")
        name, content = disposition[1].decode().lower(), content[:-2]
        if name == "file":
            return fields, content
        fields[name] = content.decode()
    return fields, None


class S3Front:
    """moto's S3 on `url`, refusing what S3 would. Start and stop it with `with`."""

    def __init__(self, credentials: dict[str, str], *, region: str = "us-east-1"):
        self.credentials = credentials  # access key -> secret key
        self.region = region
        self.clock: Callable[[], datetime] = self.real_clock
        self._moto = DomainDispatcherApplication(create_backend_app)
        # Port 0: the system picks a free port, so two test processes never race for one.
        self._server = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @staticmethod
    def real_clock() -> datetime:
        return datetime.now(UTC)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> "S3Front":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = get_input_stream(environ).read()
        try:
            self.verify(_Request(environ, body))
        except Refused as refused:
            return self._refuse(refused, start_response)
        # moto reads the body again: hand it a fresh stream of the same bytes.
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self._moto(environ, start_response)

    @staticmethod
    def _refuse(refused: Refused, start_response: Callable[..., Any]) -> list[bytes]:
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{refused.code}</Code><Message>{escape(refused.message)}</Message>"
            "<RequestId>s3-front</RequestId></Error>"
        ).encode()
        reason = {400: "Bad Request", 403: "Forbidden"}[refused.status]
        start_response(
            f"{refused.status} {reason}",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))],
        )
        return [xml]

    def verify(self, request: _Request) -> None:
        """Return if S3 would do the request; raise `Refused` with S3's answer if not."""
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            self._verify_header_signed(request, authorization)
        elif "X-Amz-Signature=" in request.query or "X-Amz-Algorithm=" in request.query:
            self._verify_presigned_url(request)
        elif request.method == "POST" and request.path.count("/") == 1:
            self._verify_form(request)
        else:
            raise _denied("Access Denied")

    def _verify_header_signed(self, request: _Request, authorization: str) -> None:
        error = "AuthorizationHeaderMalformed"
        match = _AUTHORIZATION.fullmatch(authorization.strip())
        if match is None:
            raise Refused(400, error, "The authorization header is malformed")
        amz_date = request.headers.get("x-amz-date", "")
        sent = _parse_amz_date(amz_date, error)
        if abs(self.clock() - sent) > MAX_SKEW:
            raise Refused(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )
        payload_hash = request.headers.get("x-amz-content-sha256")
        if payload_hash is None:
            raise Refused(400, "InvalidRequest", "Missing required header: x-amz-content-sha256")
        if payload_hash != UNSIGNED_PAYLOAD and payload_hash != hashlib.sha256(request.body).hexdigest():
            # A streaming (aws-chunked) body lands here too: nothing keel sends uses one.
            raise Refused(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        credential = _Credential(match["credential"], amz_date, self, error)
        canonical = request.canonical(match["signed"], payload_hash)
        credential.check(_string_to_sign(amz_date, credential.scope, canonical), match["signature"])

    def _verify_presigned_url(self, request: _Request) -> None:
        error = "AuthorizationQueryParametersError"
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        names = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires")
        names += ("X-Amz-SignedHeaders", "X-Amz-Signature")
        if any(name not in query for name in names):
            raise Refused(400, error, f"Query-string authentication requires {', '.join(names)}")
        if query["X-Amz-Algorithm"] != ALGORITHM:
            raise Refused(400, error, f"X-Amz-Algorithm only supports {ALGORITHM!r}")
        expires = query["X-Amz-Expires"]
        if not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES:
            raise Refused(400, error, f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds")
        signed_at = _parse_amz_date(query["X-Amz-Date"], error)
        if self.clock() > signed_at + timedelta(seconds=int(expires)):
            raise _denied("Request has expired")
        credential = _Credential(query["X-Amz-Credential"], query["X-Amz-Date"], self, error)
        canonical = request.canonical(
            query["X-Amz-SignedHeaders"], UNSIGNED_PAYLOAD, without="X-Amz-Signature"
        )
        string_to_sign = _string_to_sign(query["X-Amz-Date"], credential.scope, canonical)
        credential.check(string_to_sign, query["X-Amz-Signature"])

    def _verify_form(self, request: _Request) -> None:
        fields, file = _multipart(request.headers.get("Content-Type", ""), request.body)
        missing = [name for name in _FORM_FIELDS if name not in fields] + (["file"] if file is None else [])
        if missing or file is None:
            raise Refused(
                400, "InvalidArgument", f"Bucket POST must contain the fields: {', '.join(missing)}"
            )
        if fields["x-amz-algorithm"] != ALGORITHM:
            raise Refused(400, "InvalidArgument", f"x-amz-algorithm only supports {ALGORITHM!r}")
        amz_date = fields["x-amz-date"]
        _parse_amz_date(amz_date, "InvalidArgument")
        credential = _Credential(fields["x-amz-credential"], amz_date, self, "InvalidArgument")
        # The string to sign of a POST is the policy exactly as sent, still base64.
        credential.check(fields["policy"], fields["x-amz-signature"])
        policy = _decode_policy(fields["policy"])
        if self.clock() >= _parse_expiration(policy.get("expiration")):
            raise _denied("Invalid according to Policy: Policy expired.")
        bucket = request.path.strip("/")
        named = _check_conditions(policy.get("conditions"), {**fields, "bucket": bucket}, len(file))
        extra = sorted(
            name
            for name in fields
            if name not in named and name not in _UNCONDITIONED and not name.startswith("x-ignore-")
        )
        if extra:
            raise _denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")


def _decode_policy(text: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
    if not isinstance(policy, dict):
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    return policy


def _parse_expiration(value: Any) -> datetime:
    # ISO 8601 in UTC, as botocore writes it: 2026-01-01T12:00:00Z (fractions allowed).
    if not isinstance(value, str) or not value.endswith("Z"):
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.")
    try:
        return datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=UTC)
    except ValueError:
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.") from None


def _check_conditions(conditions: Any, fields: dict[str, str], size: int) -> set[str]:
    """Check each condition against the form (`bucket` is the URL's); the field names they cover."""
    if not isinstance(conditions, list):
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing condition.")
    named: set[str] = set()
    for condition in conditions:
        if isinstance(condition, dict) and len(condition) == 1:
            [(name, expected)] = condition.items()
            operator, name = "eq", name.lower()
        elif isinstance(condition, list) and len(condition) == 3:
            operator, name, expected = condition
            if operator == "content-length-range":
                _check_size(size, name, expected)
                continue
            if operator not in ("eq", "starts-with") or not str(name).startswith("$"):
                raise Refused(400, "InvalidPolicyDocument", f"Invalid Policy: {json.dumps(condition)}")
            name = name[1:].lower()
        else:
            raise Refused(400, "InvalidPolicyDocument", f"Invalid Policy: {json.dumps(condition)}")
        value = fields.get(name, "")
        if not (value == expected if operator == "eq" else value.startswith(str(expected))):
            raise _denied(f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}")
        named.add(name)
    return named


def _check_size(size: int, least: Any, most: Any) -> None:
    if not (isinstance(least, int) and isinstance(most, int) and 0 <= least <= most):
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid content-length-range.")
    if size > most:
        raise Refused(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    if size < least:
        raise Refused(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
