"""The shop's typed dependencies: who is asking, and whether they may."""

from typing import Annotated

from fastapi import Depends

from keel.apps.shop.models import RefreshToken, RevokedToken, User
from keel.core.security.auth import Authenticator, UserRow

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)

# The signed-in user's row: `.id`, `.is_admin`, `.username`... as on `User`, read-only.
CurrentUser = Annotated[UserRow, Depends(auth.current_user)]
AdminUser = Annotated[UserRow, Depends(auth.admin_user)]
