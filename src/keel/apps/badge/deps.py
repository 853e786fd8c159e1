"""The badge app's typed dependencies: who is calling (a user with a role, or a device), and
the role checks of the spec's permission map (spec 004, "权限控制")."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import bindparam, exists, select

from keel.apps.badge.models import Device, IdempotencyKey, RefreshToken, RevokedToken, User
from keel.apps.badge.services import broker, crypto, devices, signatures
from keel.core.db import Executor, after_commit, request_database
from keel.core.errors import Forbidden, NotFound, Unauthorized
from keel.core.idempotency import Idempotency
from keel.core.security.auth import Authenticator, BearerCredentials, token_service
from keel.core.security.tokens import AccessClaims, TokenService

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)

ROLES = ("admin", "user", "guest")
DEVICE = "device"

# A device's secret and whether this token was revoked, in one round trip.
_device_and_revoked = select(
    Device.secret_encrypted, exists().where(RevokedToken.jti == bindparam("jti")).label("token_revoked")
).where(Device.device_id == bindparam("device_id"))


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    user_id: int | None = None
    device_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_device(self) -> bool:
        return self.role == DEVICE

    @property
    def owner(self) -> int | None:
        """Whose badges alone this caller sees and changes (issue 17 item 8): a `user`'s own id;
        None for admins and guests (the whole fleet: the spec gives guests read) and devices
        (each limited to itself by own_device)."""
        return self.user_id if self.role == "user" else None

    def own_device(self, device_id: str) -> None:
        """A device sees only itself: another device's data does not exist for it."""
        if self.is_device and device_id != self.device_id:
            raise NotFound(f"No device {device_id!r}")

    async def see_device(self, db: Executor, device_id: str) -> None:
        """404 unless the device exists and this caller may see it (itself, or a user's own)."""
        self.own_device(device_id)
        await devices.require_device(db, device_id, self.owner)


def device_tokens(request: Request) -> TokenService:
    """Device tokens live as long as a badge is deployed (a setting), unlike a person's 15
    minutes; same secret and audience, so the app's token service reads them."""
    service = getattr(request.app.state, "badge_device_tokens", None)
    if service is None:
        settings = request.app.state.settings
        service = request.app.state.badge_device_tokens = TokenService(
            audience=request.app.state.slug,
            secret=settings.secret_key,
            access_ttl=timedelta(days=settings.badge_device_token_days),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
            refresh_reuse=timedelta(seconds=settings.refresh_reuse_seconds),
        )
    return service


def signed_requests(request: Request) -> Idempotency:
    """The state-changing device requests already run, by signature, in the app's database, so
    every process and host answers a repeat once. Kept for twice the window (a timestamp may be
    that far behind or ahead of the server's clock), after which the signature is refused
    anyway. A lease of 30 s: each of these requests is one short transaction, so a claim that old
    with no answer was left by a process that died."""
    seen = getattr(request.app.state, "badge_signed_requests", None)
    if seen is None:
        window = request.app.state.settings.badge_signature_window_seconds
        seen = request.app.state.badge_signed_requests = Idempotency(
            IdempotencyKey, lease=timedelta(seconds=30), kept=timedelta(seconds=2 * window)
        )
    return seen


# A device may repeat these freely within the window: a boot-time double check, a Range resume.
SAFE_METHODS = frozenset({"GET", "HEAD"})

SignedAt = Annotated[
    str | None,
    Header(
        alias="X-Timestamp",
        max_length=20,
        description="Required with a device token: Unix seconds, within "
        "KEEL_BADGE_SIGNATURE_WINDOW_SECONDS (300) of the server's clock.",
    ),
]
Signature = Annotated[
    str | None,
    Header(
        alias="X-Signature",
        max_length=128,
        description="Required with a device token: `sha256:` and the hex HMAC-SHA256, keyed by the "
        "device secret, of METHOD + target + body + X-Timestamp, where target is the path and "
        "`?query` as sent. GET and HEAD may repeat a signature within the window; a repeated "
        "state-changing request runs once and is answered the first answer again (409 while the "
        "first is still running).",
    ),
]


def request_target(request: Request) -> str:
    """The path (and query) exactly as the client sent it, wherever the app is mounted."""
    path = request.scope.get("raw_path", request.url.path.encode()).decode()
    query = request.scope.get("query_string", b"").decode()
    return f"{path}?{query}" if query else path


async def _authenticate_device(
    request: Request, device_id: str, jti: str, timestamp: str | None, signature: str | None
) -> Principal:
    params = {"device_id": device_id, "jti": jti}
    row = (await request_database(request).autocommit.execute(_device_and_revoked, params)).first()
    if row is None:
        raise Unauthorized("Device no longer exists")
    if row.token_revoked:
        raise Unauthorized("Token has been revoked")
    settings = request.app.state.settings
    verified = signatures.verify(
        secret=crypto.decrypt(settings.secret_key, row.secret_encrypted),
        method=request.method,
        target=request_target(request),
        body=await request.body(),
        timestamp=timestamp,
        signature=signature,
        window=settings.badge_signature_window_seconds,
    )
    if request.method not in SAFE_METHODS:
        # The signature covers method, target, body and time: the same one again is the same
        # request, resent after a lost answer, or replayed by someone who captured it.
        key = verified.removeprefix(signatures.PREFIX)
        await signed_requests(request).guard(request, f"device:{device_id}", key)
    return Principal(DEVICE, device_id=device_id)


def _access_claims(request: Request, credentials: BearerCredentials) -> AccessClaims:
    if credentials is None:
        raise Unauthorized("Not authenticated")
    claims = token_service(request).decode_access(credentials.credentials)
    request.state.access_claims = claims
    return claims


async def current_principal(
    request: Request, credentials: BearerCredentials, timestamp: SignedAt = None, signature: Signature = None
) -> Principal:
    """A person, or a device whose request is signed (the headers are documented on every
    operation a device may call)."""
    claims = _access_claims(request, credentials)
    if claims.extra.get("role") == DEVICE:
        device_id = claims.sub.removeprefix("device:")
        return await _authenticate_device(request, device_id, claims.jti, timestamp, signature)
    user = await auth.current_user(request, credentials)
    return Principal(user.role, user_id=user.id)


async def person(request: Request, credentials: BearerCredentials) -> Principal:
    """A person: for the operations no device may call, where a device token is refused as it
    is, signed or not."""
    if _access_claims(request, credentials).extra.get("role") == DEVICE:
        raise Forbidden("A device may not do this")
    user = await auth.current_user(request, credentials)
    return Principal(user.role, user_id=user.id)


def require(*roles: str):
    caller = current_principal if DEVICE in roles else person

    async def check(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"This needs the role {' or '.join(roles)}; you are {principal.role}")
        return principal

    return check


# "read" in the spec's map: every role.
Reader = Annotated[Principal, Depends(require("admin", "user", "guest", DEVICE))]
# People who may look at the whole fleet.
Viewer = Annotated[Principal, Depends(require("admin", "user", "guest"))]
# "write": admins and users.
Writer = Annotated[Principal, Depends(require("admin", "user"))]
# "manage" and "delete".
Admin = Annotated[Principal, Depends(require("admin"))]
# "write_own_data": a device, about itself.
DeviceCaller = Annotated[Principal, Depends(require(DEVICE))]
Anyone = Annotated[Principal, Depends(current_principal)]


class Pusher:
    """Messages to devices over MQTT, sent only once the request's transaction has committed."""

    def __init__(self, request: Request):
        self.request = request
        self.bridge = getattr(request.app.state, "badge_mqtt", None)

    @property
    def enabled(self) -> bool:
        return self.bridge is not None

    def send(self, device_id: str, suffix: str, payload: dict[str, Any]) -> bool:
        """Queued for after the commit; False when MQTT is off on this server."""
        if self.bridge is None:
            return False
        after_commit(self.request, partial(self.bridge.publish, device_id, suffix, payload))
        return True

    def detach(self, work: Callable[[], Awaitable[Any]]) -> None:
        """`work` starts after the commit and runs beside the answer, not before it: a push to
        many badges would hold the answer for as long as it takes."""
        bridge = self.bridge
        if bridge is None:
            return

        async def start() -> None:
            bridge.background(work)

        after_commit(self.request, start)

    async def publish(self, device_id: str, suffix: str, payload: dict[str, Any]) -> bool:
        """At once (for work already after the commit); False when MQTT is off."""
        return False if self.bridge is None else await self.bridge.publish(device_id, suffix, payload)


async def _pusher(request: Request) -> Pusher:
    return Pusher(request)


Push = Annotated[Pusher, Depends(_pusher)]


def _identities(request: Request) -> broker.Identities:
    """Made once per app: with mqtts:// it holds the TLS context, whose CA file is read once."""
    state = request.app.state
    if getattr(state, "badge_identities", None) is None:
        state.badge_identities = broker.Identities.of(state.settings)
    return state.badge_identities


BrokerIdentities = Annotated[broker.Identities, Depends(_identities)]
