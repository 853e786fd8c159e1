"""Password reset by a 6-digit code sent by mail: issuing codes (throttled, and silent about
whether the account exists) and trading a code for a new password."""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import PasswordResetCode, User
from keel.core.db import utcnow
from keel.core.errors import BadRequest
from keel.core.security.identity import normalize_email
from keel.core.security.passwords import hash_password

log = logging.getLogger("keel.fitness.password_reset")

CODE_TTL = timedelta(minutes=15)
MAX_ATTEMPTS = 5
# Per account: at most this many codes in the window, and one per interval.
CODES_PER_WINDOW = 3
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_INTERVAL = timedelta(seconds=60)

SUBJECT = "Your keel fitness password reset code"
INVALID_CODE = "Invalid or expired code"
TOO_MANY_ATTEMPTS = "Too many attempts with this code; request a new one"


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


async def _user_for_update(session: AsyncSession, email: str) -> User | None:
    # Locked (on the servers that lock) so one account's requests run one after another: the
    # throttle counts and the attempt counter then see each other's writes.
    return (
        await session.execute(select(User).where(User.email == normalize_email(email)).with_for_update())
    ).scalar_one_or_none()


async def _throttled(session: AsyncSession, user_id: int) -> bool:
    now = utcnow()
    count, latest = (
        await session.execute(
            select(func.count(), func.max(PasswordResetCode.created_at)).where(
                PasswordResetCode.user_id == user_id, PasswordResetCode.created_at > now - THROTTLE_WINDOW
            )
        )
    ).one()
    if count >= CODES_PER_WINDOW:
        return True
    return latest is not None and latest > now - THROTTLE_INTERVAL


async def issue_code(session: AsyncSession, email: str, *, secret: str) -> IssuedCode | None:
    """A new code for the account with this email, earlier ones voided; None when there is no
    such (active) account or it asked too often. Accounts made by SSO, without a password, get
    one too: that is how they set a password."""
    user = await _user_for_update(session, email)
    if user is None or not user.is_active:
        return None
    if await _throttled(session, user.id):
        log.warning("password reset code refused: too many requests", extra={"user_id": user.id})
        return None
    now = utcnow()
    await session.execute(
        update(PasswordResetCode)
        .where(
            PasswordResetCode.user_id == user.id,
            PasswordResetCode.used_at.is_(None),
            PasswordResetCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(
        PasswordResetCode(
            user_id=user.id,
            code_hash=hash_code(secret, user.id, code),
            created_at=now,
            expires_at=now + CODE_TTL,
        )
    )
    await session.flush()
    return IssuedCode(user.email, code)


async def reset_password(
    session: AsyncSession, email: str, code: str, new_password: str, *, secret: str
) -> int:
    """Check the account's latest code and set the new password; the user's id. A wrong code
    counts against the code and the count is committed although the request fails."""
    user = await _user_for_update(session, email)
    now = utcnow()
    latest = None
    if user is not None and user.is_active:
        latest = (
            await session.execute(
                select(PasswordResetCode)
                .where(PasswordResetCode.user_id == user.id, PasswordResetCode.used_at.is_(None))
                .order_by(PasswordResetCode.created_at.desc(), PasswordResetCode.id.desc())
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
            update(PasswordResetCode)
            .where(PasswordResetCode.id == latest.id)
            .values(attempts=PasswordResetCode.attempts + 1)
        )
        await session.commit()  # the attempt must count although the request fails
        raise BadRequest(INVALID_CODE)
    # Conditional: of two concurrent uses of one code, exactly one sets the password.
    claimed = await session.execute(
        update(PasswordResetCode)
        .where(
            PasswordResetCode.id == latest.id,
            PasswordResetCode.used_at.is_(None),
            PasswordResetCode.attempts < MAX_ATTEMPTS,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise BadRequest(INVALID_CODE)
    user.hashed_password = await hash_password(new_password)
    await session.flush()
    return user.id
