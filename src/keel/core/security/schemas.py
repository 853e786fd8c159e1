"""The bodies of the token endpoints every app serves through its `Authenticator`: refresh,
logout, and the token pair a login or refresh answers."""

from typing import Annotated

from pydantic import BaseModel, StringConstraints

from keel.core.params import Schema

RefreshTokenText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RefreshRequest(Schema):
    refresh_token: RefreshTokenText


class LogoutRequest(Schema):
    refresh_token: RefreshTokenText | None = None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
