"""What an app stores and emits: the two tables, an event, the app's `Feed`, and the cursor a
client resumes from (`me:12,store/<id>:40`)."""

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from keel.core.db import JSONColumn
from keel.core.errors import Unprocessable

if TYPE_CHECKING:
    from keel.core.realtime.hub import Hub

# Close codes: 4401 mirrors HTTP 401 for a bad token, 4404 a 404 (what the client asked to
# watch does not exist), 4422 a malformed parameter; 1013 ("try again later") for a client too
# slow to keep up, which reconnects with its cursor.
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 1013
SEND_QUEUE_SIZE = 1024
SEND_TIMEOUT_SECONDS = 5.0
# A channel becomes busy when its states come less than BUSY_GAP_SECONDS apart, and stays busy
# until one comes STATE_INTERVAL_SECONDS or more after the one before: a socket is sent a busy
# channel's state at most every STATE_INTERVAL_SECONDS, the latest when the time comes. A state
# after a quiet moment leaves at once. A line taking hundreds of bookings a second is then two
# frames a second per customer, not hundreds, and the process keeps its time for the bookings
# themselves; people watching a number cannot read faster. (Busy by the gap alone would not hold:
# sending every frame slows the bookings, which widens their gaps, which sends every frame.)
BUSY_GAP_SECONDS = 0.05
STATE_INTERVAL_SECONDS = 0.5
REPLAY_LIMIT = 1000
CHANNEL_LENGTH = 64
# In a cursor, the signed-in user's own channel is written `me`.
OWN = "me"
MAX_CURSOR_ENTRIES = 64
# How long a process waits for an event another one overtook before fetching it.
FILL_SECONDS = 0.2
# REST reads at most this many batches of events the viewer is not shown before answering.
MISSED_BATCHES = 10


class EventChannelMixin:
    """A channel's last sequence number: the row each event's transaction locks and increments."""

    __tablename__ = "event_channels"

    name: Mapped[str] = mapped_column(String(CHANNEL_LENGTH), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class EventMixin:
    """One row per event per channel. Rows can be pruned once no client will ask for them."""

    __tablename__ = "events"

    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    created_at: Mapped[datetime] = mapped_column(index=True)


class Event:
    """A stored event. `rendered` caches what a feed renders once for many viewers (the same
    public payload for every watcher) in this process."""

    __slots__ = ("channel", "data", "name", "rendered", "seq")

    def __init__(self, channel: str, seq: int, name: str, data: dict[str, Any]):
        self.channel = channel
        self.seq = seq
        self.name = name
        self.data = data
        self.rendered: dict[Any, Any] = {}

    def row(self) -> tuple[str, int, str, dict[str, Any]]:
        return self.channel, self.seq, self.name, self.data


# What an app emits: (channel, event name, data).
Outgoing = tuple[str, str, dict[str, Any]]


class Feed(Protocol):
    """The app's side: who follows what, and what each viewer is sent."""

    # Names of events that carry their channel's whole state (a line as it is now): a later
    # one on the same channel makes an earlier one unneeded, so a socket that has fallen behind,
    # or a replay, sends only the latest of a run of them; the skipped numbers still count as
    # delivered. Every other event is sent, each once, in order.
    states: frozenset[str]

    async def viewer(self, db: Any, user: Any | None, params: Mapping[str, str]) -> tuple[Any, set[str]]:
        """The viewer's state and the channels it follows; raises a KeelError (its status
        becomes the close code, 4000 + status) to refuse. `user` is None without a token."""
        ...

    def own_channel(self, user_id: str) -> str: ...

    def observe(self, hub: "Hub", event: Event) -> None:
        """Called once per event in each process before it is handed out: where an event
        changes who follows a channel (a customer joins a line), follow or unfollow here."""
        ...

    def render(self, viewer: Any, event: Event) -> dict[str, Any] | None:
        """The data this viewer receives for this event, or None to send it nothing."""
        ...


def superseded(events: list[Event], states: frozenset[str]) -> list[bool]:
    """For events in channel order: whether each is a state a later one of its channel replaces
    before any other event of that channel comes between (an event that is not a state is
    always sent, and the state before it too, so a client sees them in their order)."""
    later: dict[str, str | None] = {}  # channel -> the name of the next event on it, if a state
    flags = [False] * len(events)
    for n in range(len(events) - 1, -1, -1):
        event = events[n]
        is_state = event.name in states
        flags[n] = is_state and later.get(event.channel) == event.name
        later[event.channel] = event.name if is_state else None
    return flags


# --- cursors -----------------------------------------------------------------------------------


Cursor = dict[str, int]
Since = Cursor | datetime | None


def format_cursor(cursor: Mapping[str, int], own: str | None) -> str:
    """`me:12,store/<id>:40`: the position on each channel; `me` is the user's own channel.
    Always written in one order (`me` first, then by name), so equal cursors are equal strings."""
    entries = sorted(cursor.items(), key=lambda entry: (entry[0] != own, entry[0]))
    return ",".join(f"{OWN if channel == own else channel}:{seq}" for channel, seq in entries)


def parse_since(value: str | None, own: str | None) -> Since:
    """A cursor (`me:12,store/<id>:40`), a bare number (the position on the user's own
    channel, as clients of the earlier single-stream design sent), or an ISO 8601 time with a
    zone; None or empty for none."""
    if value is None or value == "":
        return None
    if value.isascii() and value.isdigit():  # "³" is a digit to isdigit, not to int()
        return {own: int(value)} if own is not None else {}
    if ":" in value and not value[:4].isdigit():
        return _parse_cursor(value, own)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _bad_since()
    return moment


def _parse_cursor(value: str, own: str | None) -> Cursor:
    cursor: Cursor = {}
    entries = value.split(",")
    if len(entries) > MAX_CURSOR_ENTRIES:
        raise _bad_since()
    for entry in entries:
        channel, _, seq = entry.rpartition(":")
        if not channel or len(channel) > CHANNEL_LENGTH or not (seq.isascii() and seq.isdigit()):
            raise _bad_since()
        if channel == OWN:
            if own is None:
                continue
            channel = own
        cursor[channel] = int(seq)
    return cursor


def _bad_since() -> Unprocessable:
    return Unprocessable(
        "since must be a cursor (me:12,store/<id>:40), an event number, or an ISO 8601 time with "
        "a zone (2024-01-15T10:40:00Z)",
        loc=("query", "since"),
    )
