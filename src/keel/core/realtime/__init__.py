"""Realtime events for any app: stored on a channel in the transaction of the change that caused
them, then fanned out to the WebSocket connections that follow that channel after the commit.

- **Channels and their sequence.** An event belongs to one channel (an app names them: a store's
  line, one user's own stream) and takes the channel's next sequence number from its row in
  `event_channels`, incremented in the event's own transaction. That row stays locked until the
  commit, so a channel's events commit in the order of their numbers and a rolled-back one
  gives its number back: every channel's committed events are numbered 1, 2, 3... without a
  gap. A client remembers a **cursor** (its position on each channel it follows) and resumes
  from it, over the WebSocket (`since=`) or REST, missing nothing and receiving nothing twice.
- **One stored event, many renderings.** An app's `Feed` says which channels a connection
  follows and renders each event for each viewer when it is sent (a store's one `queue_updated`
  becomes each waiting customer's own position), so a change costs one row however many
  people watch it.
- **Delivery** is in-process by default. With `KEEL_REDIS_URL` set, each committed batch is
  ONE message on the app's Redis channel (`keel:<slug>:events`); every process runs one
  subscriber that hands each event to its own connections following its channel. Publishing
  happens after the commit, so two processes may publish a channel's events out of order: a
  connection that sees a number skip fetches the missing ones from the table (one query per
  process and gap, shared by every connection waiting on it) before going on, and drops the
  late copies.
- **No socket holds up another.** Dispatch only puts the event on each connection's bounded
  queue; a task per connection renders and sends it. A connection whose queue overflows or
  whose send stalls is closed (1013); its client reconnects with its cursor and loses nothing.

An app declares `class Event(EventMixin, Base)` and `class EventChannel(EventChannelMixin,
Base)`, makes one `Realtime(event, channel, feed)`, takes its `sink` per request, serves `/ws`
with its `serve`, and registers its `start` and `stop` as startup and shutdown hooks.
"""

from keel.core.realtime.events import (
    REPLAY_LIMIT,
    Event,
    EventChannelMixin,
    EventMixin,
    Feed,
    Outgoing,
    format_cursor,
    parse_since,
)
from keel.core.realtime.hub import Connection, Hub
from keel.core.realtime.service import EventSink, Realtime

__all__ = [
    "REPLAY_LIMIT",
    "Connection",
    "Event",
    "EventChannelMixin",
    "EventMixin",
    "EventSink",
    "Feed",
    "Hub",
    "Outgoing",
    "Realtime",
    "format_cursor",
    "parse_since",
]
