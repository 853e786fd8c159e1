"""The fitness app's typed dependencies."""

from typing import Annotated

from fastapi import Depends, Query

from keel.apps.fitness.models import MailOutbox, PasswordResetCode, RefreshToken, RevokedToken, User
from keel.core.mail import Mailer, mailer_dependency
from keel.core.params import UtcDatetime
from keel.core.security.auth import Authenticator, UserRow
from keel.core.security.password_reset import Passwords

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)
# Reset by a mailed code (core/security/password_reset.py).
passwords = Passwords(app_name="fitness", user_model=User, code_model=PasswordResetCode, auth=auth)

# The signed-in user's row: `.id`, `.email`, `.display_name`... as on `User`, read-only.
CurrentUser = Annotated[UserRow, Depends(auth.current_user)]
AdminUser = Annotated[UserRow, Depends(auth.admin_user)]

# The app's mail, recorded in its outbox and sent after the commit.
Mail = Annotated[Mailer, Depends(mailer_dependency(MailOutbox))]

# The time range both session lists (the user's and the back office's) filter by.
StartedFrom = Annotated[
    UtcDatetime | None, Query(alias="from", description="Sessions that started at or after")
]
StartedBefore = Annotated[UtcDatetime | None, Query(alias="to", description="Sessions that started before")]
