"""The piece an app instantiates once with its own tables to get logins, refresh rotation,
logout and the `current_user` / `admin_user` dependencies (the routes: security/routes.py)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from keel.core.db import request_database, utcnow
from keel.core.errors import Forbidden, Unauthorized
from keel.core.ratelimit import client_address
from keel.core.security.tokens import (
    AccessClaims,
    TokenService,
    hash_refresh_token,
    new_refresh_token,
)

_bearer = HTTPBearer(auto_error=False, description="An access token from the app's login")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class UserRow:
    """The signed-in user's columns as read-only attributes (`.id`, `.is_admin`...), and as
    `_mapping`, like the SQLAlchemy Row it stands for: built from the precompiled read, which
    costs half the CPU of a full execution on every authenticated request."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]):
        object.__setattr__(self, "_mapping", mapping)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("the signed-in user's row is read-only; load the entity to change it")

    def __repr__(self) -> str:
        return f"UserRow(id={self._mapping.get('id')!r})"


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


def token_service(request: HTTPConnection) -> TokenService:
    return request.app.state.tokens


def request_access_claims(request: Request) -> AccessClaims:
    """The claims of the token that authenticated this request (set by `current_user`)."""
    return request.state.access_claims


class Authenticator:
    def __init__(
        self,
        *,
        user_model: type,
        refresh_model: type,
        revoked_model: type,
        session_model: type | None = None,
        admin_attr: str = "is_admin",
    ):
        """`session_model` (a `SessionMixin` table) keeps each login's device and last use, and
        lets one be ended: its access tokens (which carry its id as `sid`) stop working at once."""
        self.user_model: Any = user_model
        self.refresh_model: Any = refresh_model
        self.revoked_model: Any = revoked_model
        self.session_model: Any = session_model
        self.admin_attr = admin_attr
        self._user_id_type = self.user_model.__table__.c.id.type.python_type
        # Built once and run as Core: every authenticated request runs it. One round trip brings
        # the user's row and whether this token was signed out.
        users = self.user_model.__table__
        revoked = exists().where(self.revoked_model.jti == bindparam("jti"))
        if session_model is not None:
            ended = exists().where(
                self.session_model.id == bindparam("sid"), self.session_model.revoked_at.is_not(None)
            )
            revoked = revoked | ended
        self._user_and_revoked = select(users, revoked.label("token_revoked")).where(
            users.c.id == bindparam("user_id")
        )

    async def issue(
        self,
        session: AsyncSession,
        tokens: TokenService,
        user_id: Any,
        *,
        device: str | None = None,
        family_id: str | None = None,
        ip_address: str | None = None,
    ) -> IssuedTokens:
        raw, digest = new_refresh_token()
        now = utcnow()
        new_login = family_id is None
        family_id = family_id or uuid.uuid4().hex
        if self.session_model is None:
            access, _ = tokens.issue_access(str(user_id))
        else:
            access, _ = tokens.issue_access(str(user_id), sid=family_id)
            await self._track_session(
                session, user_id, family_id, now, now + tokens.refresh_ttl, device, ip_address, new=new_login
            )
        session.add(
            self.refresh_model(
                user_id=user_id,
                token_hash=digest,
                family_id=family_id,
                created_at=now,
                expires_at=now + tokens.refresh_ttl,
                device=device,
            )
        )
        await session.flush()
        return IssuedTokens(access, raw, int(tokens.access_ttl.total_seconds()))

    async def _track_session(
        self,
        session: AsyncSession,
        user_id: Any,
        family_id: str,
        now: datetime,
        expires_at: datetime,
        device: str | None,
        ip_address: str | None,
        *,
        new: bool,
    ) -> None:
        model = self.session_model
        if new:
            session.add(
                model(
                    id=family_id,
                    user_id=user_id,
                    device=device,
                    ip_address=ip_address,
                    created_at=now,
                    last_used_at=now,
                    expires_at=expires_at,
                )
            )
            return
        changes: dict[str, Any] = {"last_used_at": now, "expires_at": expires_at}
        if ip_address is not None:
            changes["ip_address"] = ip_address
        await session.execute(update(model).where(model.id == family_id).values(**changes))

    async def end_session(self, session: AsyncSession, user_id: Any, session_id: str) -> bool:
        """Sign one of the user's devices out; False when the user has no such session."""
        model = self.session_model
        found = (
            await session.execute(
                select(model.id).where(
                    model.id == session_id, model.user_id == user_id, model.revoked_at.is_(None)
                )
            )
        ).first()
        if found is None:
            return False
        await self.revoke_family(session, session_id)
        return True

    async def rotate(
        self, session: AsyncSession, tokens: TokenService, raw: str, *, ip_address: str | None = None
    ) -> tuple[Any, IssuedTokens]:
        """Trade a refresh token for a new pair in the same login (family). The same token again
        within `tokens.refresh_reuse` of its first use (a retry whose answer was lost, two
        refreshes at once) answers another fresh pair; a reuse after that is a sign the token was
        stolen (RFC 9700 reuse detection): its whole family is revoked, so the thief and the
        owner both sign in again."""
        model = self.refresh_model
        row = (
            await session.execute(
                select(model.id, model.user_id, model.family_id, model.device, model.expires_at).where(
                    model.token_hash == hash_refresh_token(raw), model.revoked_at.is_(None)
                )
            )
        ).one_or_none()
        now = utcnow()
        if row is None or row.expires_at <= now:
            raise Unauthorized("Invalid refresh token")
        # One conditional statement decides, so concurrent uses agree (each waits for the
        # other's row lock, then sees its stamp): the first use stamps `used_at`, a use within
        # the window of that stamp passes and leaves it, anything else changes no row.
        used_at = model.__table__.c.used_at
        claimed = await session.execute(
            update(model)
            .where(
                model.id == row.id,
                model.revoked_at.is_(None),
                or_(used_at.is_(None), used_at > now - tokens.refresh_reuse),
            )
            .values(used_at=func.coalesce(used_at, literal(now, used_at.type)))
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            await self.revoke_family(session, row.family_id)
            await session.commit()  # the revocation must stand although the request fails
            raise Unauthorized("Refresh token was already used; please sign in again")
        issued = await self.issue(
            session, tokens, row.user_id, device=row.device, family_id=row.family_id, ip_address=ip_address
        )
        return row.user_id, issued

    async def revoke_family(self, session: AsyncSession, family_id: str) -> None:
        model, now = self.refresh_model, utcnow()
        await session.execute(
            update(model)
            .where(model.family_id == family_id, model.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if self.session_model is not None:
            sessions = self.session_model
            await session.execute(
                update(sessions)
                .where(sessions.id == family_id, sessions.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def revoke_all(self, session: AsyncSession, user_id: Any, *, keep: str | None = None) -> None:
        """Revoke every refresh token of the user, in every family but `keep` (the session, or
        family, of the device that asked): each other device signs in again (after a password
        reset or change). With sessions, their access tokens are refused at once; without, they
        run out within their short lifetime."""
        now = utcnow()
        models = [(self.refresh_model, self.refresh_model.family_id)]
        if self.session_model is not None:
            models.append((self.session_model, self.session_model.id))
        for model, family in models:
            statement = update(model).where(model.user_id == user_id, model.revoked_at.is_(None))
            if keep is not None:
                statement = statement.where(family != keep)
            await session.execute(statement.values(revoked_at=now))

    async def logout(
        self, session: AsyncSession, claims: AccessClaims | None, refresh_token: str | None = None
    ) -> None:
        """Sign out with whatever the client still holds: the access token of the request
        (`claims`, revoked by `jti`, its session ended) and the refresh token (its family
        revoked), so an expired access token cannot keep a login alive. Neither valid is a 401.
        Whoever holds a refresh token may end its login: that is what the token can do anyway."""
        family = None
        if refresh_token:
            model = self.refresh_model
            family = (
                await session.execute(
                    select(model.family_id).where(
                        model.token_hash == hash_refresh_token(refresh_token),
                        model.revoked_at.is_(None),
                        model.expires_at > utcnow(),
                    )
                )
            ).scalar_one_or_none()
        if claims is None and family is None:
            raise Unauthorized("Invalid refresh token" if refresh_token else "Not authenticated")
        if claims is not None:
            session.add(self.revoked_model(jti=claims.jti, expires_at=claims.exp))
            if self.session_model is not None and (sid := claims.extra.get("sid")):
                await self.revoke_family(session, sid)  # this device is signed out
        if family is not None:
            await self.revoke_family(session, family)
        await session.flush()

    async def sign_in(
        self, request: Request, session: AsyncSession, user_id: Any, *, device: str | None = None
    ) -> IssuedTokens:
        """A new login (refresh family) for the user, recorded with the device (the name the
        client gave, else its User-Agent) and the client's address."""
        device = device or request.headers.get("user-agent")
        return await self.issue(
            session,
            token_service(request),
            user_id,
            device=device[:255] if device else None,
            ip_address=client_address(request),
        )

    async def optional_claims(self, request: Request, credentials: BearerCredentials) -> AccessClaims | None:
        """The claims of the request's access token when it still signs someone in, else None
        (logout, which a refresh token alone may do)."""
        if credentials is None:
            return None
        try:
            await self.user_for_token(request, credentials.credentials)
        except Unauthorized:
            return None
        return request_access_claims(request)

    async def current_user(self, request: Request, credentials: BearerCredentials) -> UserRow:
        """The signed-in user's row (read-only; attributes as on the model). A route that
        changes the user loads the entity by id. Read in autocommit, outside the request's
        transaction, so a request that only reads never opens one."""
        if credentials is None:
            raise Unauthorized("Not authenticated")
        return await self.user_for_token(request, credentials.credentials)

    async def user_for_token(self, connection: HTTPConnection, token: str) -> UserRow:
        """The user a raw access token signs in (a WebSocket carries it in its query string)."""
        claims = token_service(connection).decode_access(token)
        try:
            user_id = self._user_id_type(claims.sub)
        except ValueError:
            raise Unauthorized("Invalid token") from None
        params = {"user_id": user_id, "jti": claims.jti}
        if self.session_model is not None:
            params["sid"] = claims.extra.get("sid")
        found = await request_database(connection).autocommit.fetch_all(self._user_and_revoked, params)
        if not found:
            raise Unauthorized("User no longer exists")
        user = UserRow(found[0])
        # A token older than its account was issued to a deleted one whose id was given again
        # (SQLite reuses the highest rowid): it must not sign into the new account. `iat` is in
        # whole seconds, so a token of the very second the account was made still passes.
        created = getattr(user, "created_at", None)
        if created is not None and claims.iat is not None and claims.iat < created.replace(microsecond=0):
            raise Unauthorized("User no longer exists")
        if user.token_revoked:
            raise Unauthorized("Token has been revoked")
        if getattr(user, "is_active", True) is False:
            raise Unauthorized("Account is disabled")
        connection.state.access_claims = claims
        return user

    async def admin_user(self, request: Request, credentials: BearerCredentials) -> UserRow:
        user = await self.current_user(request, credentials)
        if not getattr(user, self.admin_attr, False):
            raise Forbidden("Administrator access required")
        return user
