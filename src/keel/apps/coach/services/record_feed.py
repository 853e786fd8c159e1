"""A dimension's change feed, what an offline client syncs by: records stored or edited after its
position, and tombstones of those deleted since."""

import uuid
from functools import partial
from typing import Any

from sqlalchemy import select

from keel.apps.coach.services.dimensions import DimensionSpec
from keel.core import changes as change_feed
from keel.core.changes import ChangePage, ChangesRequest, Source
from keel.core.db import Executor, utcnow


async def changes(
    db: Executor, spec: DimensionSpec, user_id: int, request: ChangesRequest
) -> ChangePage[dict[str, Any]]:
    """What changed in the user's records of the dimension after the request's position, oldest
    first: records stored or edited since, and tombstones of those deleted since.

    Ordered by (updated_at, id) through core/changes.py, whose cursor never passes the last
    minute: a transaction stamps updated_at before it commits, so a row can appear after rows
    stamped later, and re-reading that minute is what keeps it from being skipped (ties on
    updated_at are ordered by id). A per-user change sequence would also close that gap, but
    every write would then lock the user's counter row until its commit (and the one-statement
    create would need a second write); a repeated item costs the client nothing, as it applies
    items by id."""
    model = spec.model
    source = Source(
        select(*spec.columns, model.deleted_at).where(model.user_id == user_id),
        changed_at=model.updated_at,
        id=model.id,
        item=partial(_change, spec.keys),
        id_of=uuid.UUID,
    )
    return await change_feed.read(db, [source], request, utcnow())


def _change(keys: tuple[str, ...], row: Any) -> dict[str, Any]:
    if row["deleted_at"] is not None:
        return {
            "id": row["id"],
            "deleted": True,
            "deleted_at": row["deleted_at"],
            "updated_at": row["updated_at"],
        }
    return {key: row[key] for key in keys} | {"deleted": False, "deleted_at": None}
