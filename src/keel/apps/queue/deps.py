"""The queue app's typed dependencies."""

from typing import Annotated

from fastapi import Depends

from keel.apps.queue.models import Event, RefreshToken, RevokedToken, User
from keel.core.realtime import EventSink, event_sink_dependency
from keel.core.security.auth import Authenticator, UserRow

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)

# The signed-in user's row: `.id`, `.email`, `.name`... as on `User`, read-only.
CurrentUser = Annotated[UserRow, Depends(auth.current_user)]

# The request's realtime events: written in its transaction, delivered after the commit.
Events = Annotated[EventSink, Depends(event_sink_dependency(Event))]
