"""The coach app's typed dependencies and rate limits."""

from typing import Annotated

from fastapi import Depends

from keel.apps.coach.models import RefreshToken, RevokedToken, Session, User
from keel.core.ratelimit import Rate, by_address, rate_limit
from keel.core.security.auth import Authenticator, UserRow

auth = Authenticator(
    user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken, session_model=Session
)

# The signed-in user's row: `.id`, `.timezone`... as on `User`, read-only.
CurrentUser = Annotated[UserRow, Depends(auth.current_user)]

# Per user (or per address before signing in). Generous for a phone syncing its offline
# queue, tight where each call costs a password hash or an AI run (login: core/ratelimit.py).
ReadLimit = rate_limit("read", Rate(300, 60))
WriteLimit = rate_limit("write", Rate(120, 60))
AILimit = rate_limit("ai", Rate(20, 3600))
RegisterLimit = rate_limit("register", Rate(10, 3600), key=by_address)
RefreshLimit = rate_limit("refresh", Rate(30, 60), key=by_address)
