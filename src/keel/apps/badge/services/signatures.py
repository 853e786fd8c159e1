"""Signed device requests (spec 004, "签名校验机制"): HMAC-SHA256 with the device secret over
method + target + body + timestamp, within a time window. A repeat of a signed request is
answered by deps.py: safe methods run again, state-changing ones once (core/idempotency.py)."""

import hashlib
import hmac
import time

from keel.core.errors import Unauthorized

PREFIX = "sha256:"


def sign(secret: str, method: str, target: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + target.encode() + body + timestamp.encode()
    return PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    *,
    secret: str,
    method: str,
    target: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    window: int,
) -> str:
    """The signature, as the server computes it, when the request carries it within the window."""
    if not timestamp or not signature:
        raise Unauthorized("Device requests must carry X-Timestamp and X-Signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Unauthorized("X-Timestamp must be Unix seconds") from None
    if abs(time.time() - sent_at) > window:
        raise Unauthorized(f"X-Timestamp is outside the {window}-second window")
    expected = sign(secret, method, target, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise Unauthorized("Invalid request signature")
    return expected
