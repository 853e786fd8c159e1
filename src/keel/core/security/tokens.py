"""Access tokens: short-lived JWTs whose audience is the app's slug, so one app's token is
refused by every other app; and the opaque refresh tokens that are stored only as hashes."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt

from keel.core.errors import Unauthorized

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    sub: str
    jti: str
    exp: datetime
    extra: dict[str, Any]
    iat: datetime | None = None  # in whole seconds, as the token carries it


class TokenService:
    def __init__(
        self,
        *,
        audience: str,
        secret: str,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
        refresh_reuse: timedelta,
    ):
        self.audience = audience
        self._secret = secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        # How long after its first use a refresh token still answers a pair (the grace window).
        self.refresh_reuse = refresh_reuse

    def issue_access(self, subject: str, **extra: Any) -> tuple[str, AccessClaims]:
        now = datetime.now(UTC)
        claims = AccessClaims(
            subject, uuid.uuid4().hex, now + self.access_ttl, extra, now.replace(microsecond=0)
        )
        payload = {
            **extra,
            "sub": subject,
            "aud": self.audience,
            "iat": now,
            "exp": claims.exp,
            "jti": claims.jti,
            "typ": "access",
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def decode_access(self, token: str) -> AccessClaims:
        claims = self._verified(token)
        # Checked on every use: a verified token is remembered past its expiry, never honoured.
        if claims.exp <= datetime.now(UTC):
            raise Unauthorized("Token has expired")
        return claims

    @lru_cache(maxsize=8192)  # noqa: B019  (one service per app, living as long as the process)
    def _verified(self, token: str) -> AccessClaims:
        """Signature and claims, checked once per token: the result depends on nothing else.
        Revocation is not part of it; that is looked up on every request."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # pinned: "none" and key-confusion tricks are refused
                audience=self.audience,
                options={"require": ["sub", "exp", "iat", "jti", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Token has expired") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("Invalid token") from None
        if payload.get("typ") != "access":
            raise Unauthorized("Invalid token")
        extra = {k: v for k, v in payload.items() if k not in {"sub", "aud", "iat", "exp", "jti", "typ"}}
        return AccessClaims(
            payload["sub"],
            payload["jti"],
            datetime.fromtimestamp(payload["exp"], UTC),
            extra,
            datetime.fromtimestamp(payload["iat"], UTC),
        )


def new_refresh_token() -> tuple[str, str]:
    """A random refresh token and the hash that is stored in its place."""
    raw = secrets.token_urlsafe(32)
    return raw, hash_refresh_token(raw)


def hash_refresh_token(raw: str) -> str:
    # 256 random bits need no slow hash: SHA-256 is enough to make a leaked table useless.
    return hashlib.sha256(raw.encode()).hexdigest()
