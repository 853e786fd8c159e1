"""The piece an app instantiates once with its own tables to get logins, refresh rotation,
logout and the `current_user` / `admin_user` dependencies."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Row, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from keel.core.db import request_database, utcnow
from keel.core.errors import Forbidden, Unauthorized
from keel.core.security.tokens import (
    AccessClaims,
    TokenService,
    hash_refresh_token,
    new_refresh_token,
)

_bearer = HTTPBearer(auto_error=False, description="An access token from the app's login")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


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
        self, *, user_model: type, refresh_model: type, revoked_model: type, admin_attr: str = "is_admin"
    ):
        self.user_model: Any = user_model
        self.refresh_model: Any = refresh_model
        self.revoked_model: Any = revoked_model
        self.admin_attr = admin_attr
        self._user_id_type = self.user_model.__table__.c.id.type.python_type
        # Built once and run as Core: every authenticated request runs it. One round trip brings
        # the user's row and whether this token was signed out.
        users = self.user_model.__table__
        revoked = exists().where(self.revoked_model.jti == bindparam("jti")).label("token_revoked")
        self._user_and_revoked = select(users, revoked).where(users.c.id == bindparam("user_id"))

    async def issue(
        self,
        session: AsyncSession,
        tokens: TokenService,
        user_id: Any,
        *,
        device: str | None = None,
        family_id: str | None = None,
    ) -> IssuedTokens:
        access, _ = tokens.issue_access(str(user_id))
        raw, digest = new_refresh_token()
        now = utcnow()
        session.add(
            self.refresh_model(
                user_id=user_id,
                token_hash=digest,
                family_id=family_id or uuid.uuid4().hex,
                created_at=now,
                expires_at=now + tokens.refresh_ttl,
                device=device,
            )
        )
        await session.flush()
        return IssuedTokens(access, raw, int(tokens.access_ttl.total_seconds()))

    async def rotate(self, session: AsyncSession, tokens: TokenService, raw: str) -> tuple[Any, IssuedTokens]:
        """Trade a refresh token for a new pair. A token that was already used is a sign it was
        stolen: its whole family is revoked, so the thief and the owner both sign in again."""
        model = self.refresh_model
        row = (
            await session.execute(select(model).where(model.token_hash == hash_refresh_token(raw)))
        ).scalar_one_or_none()
        now = utcnow()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise Unauthorized("Invalid refresh token")
        # Conditional: of two concurrent uses of one token, exactly one wins.
        claimed = await session.execute(
            update(model).where(model.id == row.id, model.used_at.is_(None)).values(used_at=now)
        )
        if claimed.rowcount != 1:
            await self.revoke_family(session, row.family_id)
            await session.commit()  # the revocation must stand although the request fails
            raise Unauthorized("Refresh token was already used; please sign in again")
        issued = await self.issue(session, tokens, row.user_id, device=row.device, family_id=row.family_id)
        return row.user_id, issued

    async def revoke_family(self, session: AsyncSession, family_id: str) -> None:
        model = self.refresh_model
        await session.execute(
            update(model)
            .where(model.family_id == family_id, model.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def revoke_all(self, session: AsyncSession, user_id: Any) -> None:
        """Revoke every refresh token of the user, in every family: each device signs in again
        (after a password reset). Access tokens run out within their short lifetime."""
        model = self.refresh_model
        await session.execute(
            update(model)
            .where(model.user_id == user_id, model.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def logout(
        self, session: AsyncSession, claims: AccessClaims, refresh_token: str | None = None
    ) -> None:
        """Revoke the access token that made the request and, when given, its refresh family."""
        session.add(self.revoked_model(jti=claims.jti, expires_at=claims.exp))
        if refresh_token:
            model = self.refresh_model
            family = (
                await session.execute(
                    select(model.family_id).where(
                        model.token_hash == hash_refresh_token(refresh_token),
                        model.user_id == self._user_id_type(claims.sub),
                    )
                )
            ).scalar_one_or_none()
            if family:
                await self.revoke_family(session, family)
        await session.flush()

    async def current_user(self, request: Request, credentials: BearerCredentials) -> Row[Any]:
        """The signed-in user's row (read-only; attributes as on the model). A route that
        changes the user loads the entity by id. Read in autocommit, outside the request's
        transaction, so a request that only reads never opens one."""
        if credentials is None:
            raise Unauthorized("Not authenticated")
        return await self.user_for_token(request, credentials.credentials)

    async def user_for_token(self, connection: HTTPConnection, token: str) -> Row[Any]:
        """The user a raw access token signs in (a WebSocket carries it in its query string)."""
        claims = token_service(connection).decode_access(token)
        try:
            user_id = self._user_id_type(claims.sub)
        except ValueError:
            raise Unauthorized("Invalid token") from None
        params = {"user_id": user_id, "jti": claims.jti}
        user = (await request_database(connection).autocommit.execute(self._user_and_revoked, params)).first()
        if user is None:
            raise Unauthorized("User no longer exists")
        if user.token_revoked:
            raise Unauthorized("Token has been revoked")
        if getattr(user, "is_active", True) is False:
            raise Unauthorized("Account is disabled")
        connection.state.access_claims = claims
        return user

    async def admin_user(self, request: Request, credentials: BearerCredentials) -> Row[Any]:
        user = await self.current_user(request, credentials)
        if not getattr(user, self.admin_attr, False):
            raise Forbidden("Administrator access required")
        return user
