"""The coach app's typed dependencies and rate limits."""

from typing import Annotated

from fastapi import Depends, Query, Request

from keel.apps.coach.models import MailOutbox, PasswordResetCode, RefreshToken, RevokedToken, Session, User
from keel.core.errors import Unauthorized
from keel.core.mail import Mailer, mailer_dependency
from keel.core.ratelimit import Rate, by_address, by_user, enforce, rate_limit
from keel.core.security.auth import Authenticator, BearerCredentials, UserRow
from keel.core.security.password_reset import Passwords

auth = Authenticator(
    user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken, session_model=Session
)

# Reset by a mailed code, and change (core/security/password_reset.py).
passwords = Passwords(app_name="coach", user_model=User, code_model=PasswordResetCode, auth=auth)

# The app's mail (reset codes), recorded in its outbox and sent after the commit.
Mail = Annotated[Mailer, Depends(mailer_dependency(MailOutbox))]

# The signed-in user's row: `.id`, `.timezone`... as on `User`, read-only.
CurrentUser = Annotated[UserRow, Depends(auth.current_user)]

# Per user (or per address before signing in). Generous for a phone syncing its offline
# queue, tight where each call costs a password hash or an AI run (login: core/ratelimit.py).
ReadLimit = rate_limit("read", Rate(300, 60))
WriteLimit = rate_limit("write", Rate(120, 60))
AI_RATE = Rate(20, 3600)
AILimit = rate_limit("ai", AI_RATE)
RegisterLimit = rate_limit("register", Rate(10, 3600), key=by_address)
RefreshLimit = rate_limit("refresh", Rate(30, 60), key=by_address)
# Per user, spent before the current password is checked (as fitness's account deletion): a
# stolen access token gets 5 guesses every 15 minutes, as many as a person who mistypes needs.
PasswordLimit = rate_limit("password.change", Rate(5, 15 * 60))
# Per address: the per-account throttle (3 codes per 15 minutes) does not stop one client from
# mailing codes to many accounts, or spreading code guesses over them.
ResetLimit = rate_limit("password.reset", Rate(30, 3600), key=by_address)


async def spend_ai_rate(request: Request) -> None:
    """Spend one of the AI bucket's tokens from inside a route (a stats read that asks for a
    summary), as AILimit does before one."""
    await enforce(request, f"ai:{await by_user(request)}", AI_RATE)


async def _stream_user(
    request: Request,
    credentials: BearerCredentials,
    access_token: Annotated[
        str | None,
        Query(max_length=4096, description="The access token, for clients that cannot send headers"),
    ] = None,
) -> UserRow:
    # A browser's EventSource sends no Authorization header, so a stream also takes its token
    # in the query string (the access log records the path only, never the query).
    if credentials is not None:
        return await auth.current_user(request, credentials)
    if access_token:
        return await auth.user_for_token(request, access_token)
    raise Unauthorized("Not authenticated")


# The signed-in user of a server-sent event stream: by the header or by `?access_token=`.
StreamUser = Annotated[UserRow, Depends(_stream_user)]
