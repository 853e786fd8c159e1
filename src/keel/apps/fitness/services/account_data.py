"""What a user may take away or erase (App Store and Play rules): the export of everything the
account holds, and its deletion, confirmed with the password or, for an account without one, a
fresh token of the provider it signs in with."""

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from keel.apps.fitness.models import IdempotencyKey, MailOutbox, SocialAccount, User, UserStat, WorkoutSession
from keel.apps.fitness.schemas import AccountDeletion
from keel.apps.fitness.services.sso import Identity
from keel.core.db import utcnow
from keel.core.errors import Forbidden, Unprocessable
from keel.core.security.passwords import verify_password
from keel.core.storage import key_of_url

# How old a provider's token may be to confirm a deletion: one the app just obtained by asking
# the person to sign in again, not one a stolen phone kept from last week.
FRESH = timedelta(minutes=5)


async def export(session: AsyncSession, user_id: int) -> dict[str, Any]:
    """Everything stored about the user, as `AccountExport` reads it."""
    user = await session.get_one(User, user_id)
    sessions = (
        await session.execute(
            select(WorkoutSession)
            .where(WorkoutSession.user_id == user_id)
            .order_by(WorkoutSession.start_time, WorkoutSession.id)
            .options(undefer(WorkoutSession.time_series_data))
        )
    ).scalars()
    linked = (
        await session.execute(
            select(SocialAccount).where(SocialAccount.user_id == user_id).order_by(SocialAccount.id)
        )
    ).scalars()
    return {
        "exported_at": utcnow(),
        "user": user,
        "stats": await session.get_one(UserStat, user_id),
        "social_accounts": list(linked),
        "sessions": list(sessions),
    }


async def delete_account(
    session: AsyncSession, user_id: int, data: AccountDeletion, identity: Identity | None
) -> str | None:
    """Check the confirmation, then delete the user and everything theirs in the caller's
    transaction. Answers the key of the avatar file to remove once that has committed (None
    when there is none, or another user shows the same image). 403 for a wrong confirmation."""
    user = await session.get_one(User, user_id, with_for_update=True)
    if user.hashed_password is not None:
        if data.password is None:
            raise Unprocessable("Confirm the deletion with the account's password", loc=("body", "password"))
        if not await verify_password(data.password, user.hashed_password):
            raise Forbidden("Incorrect password")
    else:
        await _confirm_with_provider(session, user_id, identity)

    avatar = key_of_url(user.avatar_url) if user.avatar_url else None
    if avatar is not None:
        # Files are stored by content: the same image may be someone else's avatar too.
        shared = await session.execute(
            select(User.id).where(User.id != user_id, User.avatar_url.endswith(f"/files/{avatar}")).limit(1)
        )
        if shared.first() is not None:
            avatar = None
    # Sessions, stats, workout days, social accounts, reset codes and refresh tokens go with the
    # user row (ON DELETE CASCADE, on SQLite too: core.db turns foreign keys on); the
    # idempotency keys name the user only in their scope, the mail sent to them (reset codes)
    # only by address.
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.scope.startswith(f"user:{user_id}:")))
    await session.execute(delete(MailOutbox).where(MailOutbox.recipient == user.email))
    await session.execute(delete(User).where(User.id == user_id))
    return avatar


async def _confirm_with_provider(session: AsyncSession, user_id: int, identity: Identity | None) -> None:
    if identity is None:
        raise Unprocessable(
            "This account has no password: confirm the deletion with a token of the provider "
            "you sign in with (provider and id_token, or access_token for Facebook)",
            loc=("body", "id_token"),
        )
    linked = await session.execute(
        select(SocialAccount.id).where(
            SocialAccount.user_id == user_id,
            SocialAccount.provider == identity.provider.value,
            SocialAccount.provider_uid == identity.uid,
        )
    )
    if linked.first() is None:
        raise Forbidden("This token is not of a provider account linked to this user")
    if identity.issued_at is None or identity.issued_at < utcnow() - FRESH:
        raise Forbidden(
            f"The token must be at most {int(FRESH.total_seconds() // 60)} minutes old: "
            "sign in with the provider again to confirm"
        )
