"""The fitness app's typed dependencies."""

from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import Row

from keel.apps.fitness.models import MailOutbox, RefreshToken, RevokedToken, User
from keel.core.mail import Mailer, mailer_dependency
from keel.core.security.auth import Authenticator

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)

# The signed-in user's row: `.id`, `.email`, `.display_name`... as on `User`, read-only.
CurrentUser = Annotated[Row[Any], Depends(auth.current_user)]
AdminUser = Annotated[Row[Any], Depends(auth.admin_user)]

# The app's mail, recorded in its outbox and sent after the commit.
Mail = Annotated[Mailer, Depends(mailer_dependency(MailOutbox))]
