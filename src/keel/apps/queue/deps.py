"""The queue app's typed dependencies."""

from typing import Annotated

from fastapi import Depends

from keel.apps.queue.models import Event, EventChannel, RefreshToken, RevokedToken, User
from keel.apps.queue.services.live import QueueFeed
from keel.core.realtime import EventSink, Realtime
from keel.core.security.auth import Authenticator, UserRow

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)

# The signed-in user's row: `.id`, `.email`, `.name`... as on `User`, read-only.
CurrentUser = Annotated[UserRow, Depends(auth.current_user)]

# Stores, per-channel numbering and per-socket rendering of the app's live events.
realtime = Realtime("queue", Event, EventChannel, QueueFeed())

# The request's realtime events: written in its transaction, delivered after the commit.
Events = Annotated[EventSink, Depends(realtime.sink)]
