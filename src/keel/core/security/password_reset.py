"""Passwords an app's users set themselves: a reset by a 6-digit code sent by mail (issuing
codes, throttled and silent about whether the account exists, and trading one for a new
password), and a change by a signed-in user who knows the current one.

An app whose users have `email`, `hashed_password` and `is_active` columns builds one
`Passwords` with its users table, its `PasswordResetCode(PasswordResetCodeMixin, Base)` table
and its `Authenticator`, and writes the routes (their paths and bodies are its spec's). Either
way the password changes, the user's other devices sign in again.
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.db import utcnow
from keel.core.errors import BadRequest, Forbidden
from keel.core.mail import Mailer
from keel.core.security.auth import Authenticator
from keel.core.security.identity import normalize_email
from keel.core.security.passwords import hash_password, verify_password

log = logging.getLogger("keel.password_reset")

CODE_TTL = timedelta(minutes=15)
MAX_ATTEMPTS = 5
# Per account: at most this many codes in the window, and one per interval.
CODES_PER_WINDOW = 3
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_INTERVAL = timedelta(seconds=60)

INVALID_CODE = "Invalid or expired code"
TOO_MANY_ATTEMPTS = "Too many attempts with this code; request a new one"
# 403, not 401: the request's own token is good, and a 401 would send the app to sign in again.
INCORRECT_PASSWORD = "Incorrect password"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    email: str
    code: str


def hash_code(secret: str, user_id: int, code: str) -> str:
    """Keyed with the app's secret: a million codes are no work to try against a plain SHA-256,
    so a leaked table alone must not give them away."""
    return hmac.new(secret.encode(), f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def mail_body(code: str) -> str:
    minutes = int(CODE_TTL.total_seconds() // 60)
    return (
        f"Your password reset code is {code}\n\n"
        f"It is valid for {minutes} minutes. If you did not ask to reset your password, ignore this "
        "message: your password stays as it is.\n"
    )


class Passwords:
    def __init__(self, *, app_name: str, user_model: type, code_model: type, auth: Authenticator):
        self.subject = f"Your keel {app_name} password reset code"
        self.user_model: Any = user_model
        self.code_model: Any = code_model
        self.auth = auth

    async def _user_for_update(self, session: AsyncSession, email: str) -> Any:
        # Locked (on the servers that lock) so one account's requests run one after another: the
        # throttle counts and the attempt counter then see each other's writes.
        users = self.user_model
        return (
            await session.execute(
                select(users).where(users.email == normalize_email(email)).with_for_update()
            )
        ).scalar_one_or_none()

    async def _throttled(self, session: AsyncSession, user_id: int) -> bool:
        codes, now = self.code_model, utcnow()
        count, latest = (
            await session.execute(
                select(func.count(), func.max(codes.created_at)).where(
                    codes.user_id == user_id, codes.created_at > now - THROTTLE_WINDOW
                )
            )
        ).one()
        if count >= CODES_PER_WINDOW:
            return True
        return latest is not None and latest > now - THROTTLE_INTERVAL

    async def _void_codes(self, session: AsyncSession, user_id: int) -> None:
        codes, now = self.code_model, utcnow()
        await session.execute(
            update(codes)
            .where(codes.user_id == user_id, codes.used_at.is_(None), codes.expires_at > now)
            .values(expires_at=now)
        )

    async def issue_code(self, session: AsyncSession, email: str, *, secret: str) -> IssuedCode | None:
        """A new code for the account with this email, earlier ones voided; None when there is no
        such (active) account or it asked too often. Accounts without a password (made by SSO)
        get one too: that is how they set a password."""
        user = await self._user_for_update(session, email)
        if user is None or not user.is_active:
            return None
        if await self._throttled(session, user.id):
            log.warning("password reset code refused: too many requests", extra={"user_id": user.id})
            return None
        await self._void_codes(session, user.id)
        code, now = f"{secrets.randbelow(10**6):06d}", utcnow()
        session.add(
            self.code_model(
                user_id=user.id,
                code_hash=hash_code(secret, user.id, code),
                created_at=now,
                expires_at=now + CODE_TTL,
            )
        )
        await session.flush()
        return IssuedCode(user.email, code)

    async def request_reset(self, session: AsyncSession, mail: Mailer, email: str, *, secret: str) -> None:
        """Mail a code to the account, if there is one that may have it; the caller's answer must
        be the same either way."""
        issued = await self.issue_code(session, email, secret=secret)
        if issued is not None:
            await mail.send(session, to=issued.email, subject=self.subject, body=mail_body(issued.code))

    async def reset(
        self, session: AsyncSession, email: str, code: str, new_password: str, *, secret: str
    ) -> int:
        """Check the account's latest code, set the new password and sign every device out; the
        user's id. A wrong code counts against the code and the count is committed although the
        request fails."""
        codes = self.code_model
        user = await self._user_for_update(session, email)
        now = utcnow()
        latest = None
        if user is not None and user.is_active:
            latest = (
                await session.execute(
                    select(codes)
                    .where(codes.user_id == user.id, codes.used_at.is_(None))
                    .order_by(codes.created_at.desc(), codes.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        # No account, no code, or an expired one: one answer, so it tells nothing about the account.
        if user is None or latest is None or latest.expires_at <= now:
            raise BadRequest(INVALID_CODE)
        if latest.attempts >= MAX_ATTEMPTS:
            raise BadRequest(TOO_MANY_ATTEMPTS)
        if not hmac.compare_digest(latest.code_hash, hash_code(secret, user.id, code)):
            await session.execute(
                update(codes).where(codes.id == latest.id).values(attempts=codes.attempts + 1)
            )
            await session.commit()  # the attempt must count although the request fails
            raise BadRequest(INVALID_CODE)
        # Conditional: of two concurrent uses of one code, exactly one sets the password.
        claimed = await session.execute(
            update(codes)
            .where(codes.id == latest.id, codes.used_at.is_(None), codes.attempts < MAX_ATTEMPTS)
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            raise BadRequest(INVALID_CODE)
        user.hashed_password = await hash_password(new_password)
        await session.flush()
        await self.auth.revoke_all(session, user.id)
        return user.id

    async def change(
        self,
        session: AsyncSession,
        user_id: int,
        current_password: str,
        new_password: str,
        *,
        keep: str | None,
    ) -> None:
        """Set a new password for the signed-in user who gave the current one (403 otherwise).
        Every other device signs in again; `keep` is the session (refresh family) of the one
        asking. Codes still outstanding are voided: they were asked for the old password."""
        user = await session.get(self.user_model, user_id, with_for_update=True)
        if user is None or not await verify_password(current_password, user.hashed_password):
            raise Forbidden(INCORRECT_PASSWORD)
        user.hashed_password = await hash_password(new_password)
        await session.flush()
        await self._void_codes(session, user_id)
        await self.auth.revoke_all(session, user_id, keep=keep)
