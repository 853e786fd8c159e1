"""Change feeds: what changed after a point, deletions included, so another device of the same
user catches up (`GET ...?updated_since=<ISO time>`, then `?cursor=<the answer's cursor>`).

A feed reads one or more sources (an app's rows by their change time, its tombstones by their
deletion time), each through an index on (owner, change time), and merges them in one order:
change time, then source, then id. A cursor is the position of the last item answered.

Commit order is not timestamp order: a row stamped at 12:00:00.100 by a transaction that commits
at 12:00:00.900 is invisible to a read at 12:00:00.500 that already answered rows of 12:00:00.400.
So the cursor never moves past `now - SETTLE`: items newer than that are answered, and answered
again by the next call, until they are older. Items are upserts and deletions keyed by id, so a
repeat is harmless; a skipped item would be a device that never learns of a change.
"""

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, or_

from keel.core.db import Executor
from keel.core.errors import Gone, Unprocessable

T = TypeVar("T")
# Longer than any transaction that writes a feed's rows takes from its timestamp to its commit.
SETTLE = timedelta(seconds=60)
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Position:
    """Where a feed was read up to: items after it are answered next."""

    at: datetime
    source: int = -1  # before every source: everything changed at `at` itself is after it
    id: str = ""

    def encode(self) -> str:
        text = orjson.dumps([self.at.isoformat(), self.source, self.id])
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> "Position":
        try:
            at, source, id_ = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            return cls(datetime.fromisoformat(at).astimezone(UTC), int(source), str(id_))
        except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
            raise Unprocessable("cursor is not one this server answered", loc=("query", "cursor")) from None


@dataclass(frozen=True, slots=True)
class ChangesRequest:
    after: Position
    limit: int
    # How long deletions are remembered (KEEL_RETENTION_TOMBSTONES_DAYS): a position older than
    # that may have missed one.
    kept: timedelta


async def _changes_request(
    request: Request,
    updated_since: Annotated[
        AwareDatetime | None,
        Query(description="ISO time with its offset: what changed after it (a first catch-up)"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="The `cursor` of the previous answer: what changed after it"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per answer")] = 100,
) -> ChangesRequest | None:
    if cursor is not None and updated_since is not None:
        raise Unprocessable("send updated_since or cursor, not both", loc=("query", "cursor"))
    kept = timedelta(days=request.app.state.settings.retention_tombstones_days)
    if cursor is not None:
        return ChangesRequest(Position.decode(cursor), limit, kept)
    if updated_since is not None:
        try:
            since = updated_since.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC moment there is
            raise Unprocessable("updated_since is out of range", loc=("query", "updated_since")) from None
        return ChangesRequest(Position(since), limit, kept)
    return None


# None when the request asked for neither: the route answers its ordinary list instead.
ChangesParams = Annotated[ChangesRequest | None, Depends(_changes_request)]


class ChangePage(BaseModel, Generic[T]):
    items: list[T]
    cursor: str = Field(description="Send as `cursor` to read what changed after these items")
    has_more: bool = Field(description="More changes are ready now: ask again with `cursor` at once")


@dataclass(frozen=True, slots=True)
class Source:
    """One kind of row a feed answers: `statement` selects the owner's rows (any filter
    applied), `changed_at` and `id` are its columns that order them, `item` turns a row into
    what the client reads, and `id_of` turns a cursor's id back into the id column's type."""

    statement: Select[Any]
    changed_at: Any
    id: Any
    item: Callable[[Any], dict[str, Any]]
    id_of: Callable[[str], Any] = str


def _after(source: Source, index: int, position: Position) -> ColumnElement[bool]:
    if index < position.source:
        return source.changed_at > position.at
    if index > position.source:
        return source.changed_at >= position.at
    same_time = and_(source.changed_at == position.at, source.id > source.id_of(position.id))
    return or_(source.changed_at > position.at, same_time)


async def read(
    db: Executor, sources: Sequence[Source], request: ChangesRequest, now: datetime
) -> ChangePage[dict[str, Any]]:
    """Up to `request.limit` items after its position, across the sources, oldest first. A
    position from before the deletions still remembered is 410: the device reads everything
    again rather than keep a copy of something deleted."""
    if request.after.at < now - request.kept:
        raise Gone(
            f"deletions are remembered for {request.kept.total_seconds() / 86400:g} days and this "
            "position is older: read the full list again"
        )
    # (change time, source, id as the column has it, item)
    found: list[tuple[datetime, int, Any, dict[str, Any]]] = []
    for index, source in enumerate(sources):
        statement = (
            source.statement.where(_after(source, index, request.after))
            .order_by(source.changed_at, source.id)
            .limit(request.limit)
        )
        for row in (await db.execute(statement)).mappings():
            item = source.item(row)
            found.append((row[source.changed_at.key], index, row[source.id.key], item))
    # Within a source, rows stay in the database's order: its order of ids (MariaDB's UUID type
    # sorts them unlike Python) is the one `_after` continues from. The sort is stable.
    found.sort(key=lambda entry: entry[:2])
    page = found[: request.limit]
    settled = [entry for entry in page if entry[0] <= now - SETTLE]
    last = settled[-1] if settled else None
    cursor = request.after if last is None else Position(last[0], last[1], str(last[2]))
    # Only settled items move the cursor: an unsettled one ends what is ready now.
    full = len(found) > len(page) or len(page) == request.limit
    return ChangePage(
        items=[entry[3] for entry in page],
        cursor=cursor.encode(),
        has_more=full and len(settled) == len(page),
    )
