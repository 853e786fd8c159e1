"""The badge app's typed dependencies: who is calling (a user with a role, or a device), and
the role checks of the spec's permission map (spec 004, "权限控制")."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import bindparam, exists, select

from keel.apps.badge.models import Device, RefreshToken, RevokedToken, User
from keel.apps.badge.services import crypto, signatures
from keel.core.db import after_commit, request_database
from keel.core.errors import Forbidden, NotFound, Unauthorized
from keel.core.security.auth import Authenticator, BearerCredentials, token_service
from keel.core.security.tokens import TokenService

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

    def own_device(self, device_id: str) -> None:
        """A device sees only itself: another device's data does not exist for it."""
        if self.is_device and device_id != self.device_id:
            raise NotFound(f"No device {device_id!r}")


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


def nonce_cache(request: Request) -> signatures.NonceCache:
    cache = getattr(request.app.state, "badge_nonces", None)
    if cache is None:
        cache = request.app.state.badge_nonces = signatures.NonceCache(request.app.state.redis)
    return cache


def request_target(request: Request) -> str:
    """The path (and query) exactly as the client sent it, wherever the app is mounted."""
    path = request.scope.get("raw_path", request.url.path.encode()).decode()
    query = request.scope.get("query_string", b"").decode()
    return f"{path}?{query}" if query else path


async def _authenticate_device(request: Request, device_id: str, jti: str) -> Principal:
    params = {"device_id": device_id, "jti": jti}
    row = (await request_database(request).autocommit.execute(_device_and_revoked, params)).first()
    if row is None:
        raise Unauthorized("Device no longer exists")
    if row.token_revoked:
        raise Unauthorized("Token has been revoked")
    settings = request.app.state.settings
    await signatures.verify(
        secret=crypto.decrypt(settings.secret_key, row.secret_encrypted),
        method=request.method,
        target=request_target(request),
        body=await request.body(),
        timestamp=request.headers.get("x-timestamp"),
        signature=request.headers.get("x-signature"),
        window=settings.badge_signature_window_seconds,
        nonces=nonce_cache(request),
    )
    return Principal(DEVICE, device_id=device_id)


async def current_principal(request: Request, credentials: BearerCredentials) -> Principal:
    if credentials is None:
        raise Unauthorized("Not authenticated")
    claims = token_service(request).decode_access(credentials.credentials)
    request.state.access_claims = claims
    if claims.extra.get("role") == DEVICE:
        return await _authenticate_device(request, claims.sub.removeprefix("device:"), claims.jti)
    user = await auth.current_user(request, credentials)
    return Principal(user.role, user_id=user.id)


def require(*roles: str):
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
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
