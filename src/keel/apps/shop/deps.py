"""The shop's typed dependencies: who is asking, and whether they may."""

from typing import Annotated

from fastapi import Depends

from keel.apps.shop.models import RefreshToken, RevokedToken, User
from keel.core.security.auth import Authenticator

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)

CurrentUser = Annotated[User, Depends(auth.current_user)]
AdminUser = Annotated[User, Depends(auth.admin_user)]
