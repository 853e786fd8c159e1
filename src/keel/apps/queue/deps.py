"""The queue app's typed dependencies."""

from typing import Annotated

from fastapi import Depends, Request

from keel.apps.queue.models import Event, EventChannel, RefreshToken, RevokedToken, User
from keel.apps.queue.services.live import QueueFeed
from keel.core.realtime import EventSink, Realtime
from keel.core.security.auth import Authenticator, UserRow
from keel.settings import Settings

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)

# The signed-in user's row: `.id`, `.email`, `.name`... as on `User`, read-only.
CurrentUser = Annotated[UserRow, Depends(auth.current_user)]

# Stores, per-channel numbering and per-socket rendering of the app's live events.
realtime = Realtime("queue", Event, EventChannel, QueueFeed())

# The request's realtime events: written in its transaction, delivered after the commit.
Events = Annotated[EventSink, Depends(realtime.sink)]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


# The deployment's settings (a new store's default time zone).
AppSettings = Annotated[Settings, Depends(_settings)]


def _default_service_minutes(request: Request) -> float:
    return request.app.state.settings.queue_default_service_minutes


# KEEL_QUEUE_DEFAULT_SERVICE_MINUTES: what a wait estimate uses for a store with neither
# measured services nor a default of its own (services/line.py).
DefaultServiceMinutes = Annotated[float, Depends(_default_service_minutes)]
