"""`/records/{dimension}` for the five dimensions. Each gets its own routes (and its own
schemas in the OpenAPI document), under its name and under its table's name of spec 001
section 4.1 (`workouts`, `meals`, `sleeps`, `work_notes`, `readings`), the aliases the one
resolver (`dimensions.NAMES`) knows; any other dimension is a 404 that names the valid ones."""

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from keel.apps.coach.deps import CurrentUser, ReadLimit, WriteLimit
from keel.apps.coach.schemas import Tombstone, conflict_response
from keel.apps.coach.services import dimensions, privacy, record_feed, records
from keel.apps.coach.services.dimensions import NAMES, DimensionSpec
from keel.core.changes import ChangePage, ChangesParams
from keel.core.db import AppDatabase, DbSession, ReadDb, TransactionalRoute
from keel.core.errors import (
    Gone,
    NotFound,
    PreconditionRequired,
    Unauthorized,
    Unprocessable,
    error_responses,
)
from keel.core.pagination import Page, PageParams, fetch_page, page_of
from keel.core.ratelimit import client_address

router = APIRouter(prefix="/api/v1/records", tags=["records"], route_class=TransactionalRoute)

IfMatch = Annotated[
    str | None,
    Header(
        max_length=64, description='The version the edit is based on, e.g. "3" (or `version` in the body)'
    ),
]
_VERSION = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    match = _VERSION.match(value)
    if match is None:
        raise Unprocessable('If-Match must be a record version such as "3"', loc=("header", "If-Match"))
    return int(match[1])


def _etag(record: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{record["version"]}"'}


def _add_routes(spec: DimensionSpec, name: str) -> None:
    """The dimension's routes at `/records/<name>`: its own name, or its table's (an alias:
    the same operations, documented as such)."""
    out, create_schema, update_schema = spec.out, spec.create, spec.update
    change = spec.change | Tombstone
    alias = (
        ""
        if name == spec.name.value
        else f"\n\nAlias of `/api/v1/records/{spec.name.value}` (spec 001 names the table `{name}`)."
    )

    @router.get(
        f"/{name}",
        name=f"list_{name}",
        description=_LIST + alias,
        response_model=Page[out] | ChangePage[change],  # type: ignore[valid-type]
        responses=error_responses(Unauthorized, Gone),
        dependencies=[ReadLimit],
    )
    async def list_records(
        user: CurrentUser,
        db: ReadDb,
        page: PageParams,
        changed: ChangesParams,
        since: Annotated[dt.date | None, Query(alias="from", description="On or after this date")] = None,
        until: Annotated[dt.date | None, Query(alias="to", description="On or before this date")] = None,
    ) -> Any:
        if changed is not None:
            if (since, until) != (None, None):
                raise Unprocessable("the change feed takes no from or to", loc=("query", "updated_since"))
            return await record_feed.changes(db, spec, user.id, changed)
        rows, total = await fetch_page(db, records.listing(spec, user.id, since, until), page)
        return page_of([dict(row._mapping) for row in rows], total, page)

    @router.post(
        f"/{name}",
        name=f"create_{name}",
        status_code=201,
        response_model=out,
        description=_CREATE + alias,
        responses={200: {"model": out, "description": _REPEATED}} | conflict_response,
        dependencies=[WriteLimit],
    )
    async def create(
        data: create_schema,  # type: ignore[valid-type]
        user: CurrentUser,
        database: AppDatabase,
        session: DbSession,
    ) -> Response:
        record, created = await records.create(database, session, spec, user.id, user.timezone, data)
        return Response(
            out.model_validate(record).model_dump_json(),
            status_code=201 if created else 200,
            headers=_etag(record),
            media_type="application/json",
        )

    @router.get(
        f"/{name}/{{record_id}}",
        name=f"get_{name}",
        description="The record; its version as `ETag`. A deleted record is 404." + alias,
        response_model=out,
        responses=error_responses(Unauthorized, NotFound),
        dependencies=[ReadLimit],
    )
    async def get(record_id: uuid.UUID, user: CurrentUser, db: ReadDb, response: Response) -> Any:
        record = await records.find(db, spec, user.id, record_id)
        response.headers.update(_etag(record))
        return record

    @router.put(
        f"/{name}/{{record_id}}",
        name=f"replace_{name}",
        description=_REPLACE + alias,
        response_model=out,
        responses=error_responses(Unauthorized, NotFound, PreconditionRequired) | conflict_response,
        dependencies=[WriteLimit],
    )
    async def replace(
        record_id: uuid.UUID,
        data: update_schema,  # type: ignore[valid-type]
        user: CurrentUser,
        session: DbSession,
        response: Response,
        if_match: IfMatch = None,
    ) -> Any:
        record = await records.replace(session, spec, user.id, record_id, data, _if_match(if_match))
        response.headers.update(_etag(record))
        return record

    @router.delete(
        f"/{name}/{{record_id}}",
        name=f"delete_{name}",
        description="204, and 204 again for a record deleted already; 404 for one never stored (or another user's)."
        + alias,
        status_code=204,
        response_class=Response,
        responses=error_responses(Unauthorized, NotFound),
        dependencies=[WriteLimit],
    )
    async def remove(record_id: uuid.UUID, request: Request, user: CurrentUser, session: DbSession) -> None:
        if await records.remove(session, spec, user.id, record_id):
            target = f"{spec.name.value}:{record_id}"
            await privacy.audit(session, user.id, "record.delete", target, client_address(request))


_LIST = """Newest day first.

With `updated_since` (then `cursor`), what changed instead, oldest first: records stored or
edited since (`deleted: false`), and those deleted since as tombstones (`{"id", "deleted":
true, "deleted_at"}`). Ask again with the answer's `cursor` while `has_more`, later with the
last `cursor`. An item may come again in the next answer (the last minute is read twice, so a
write committed late is not missed): apply items by `id`. A position older than
KEEL_RETENTION_TOMBSTONES_DAYS is 410: read the whole list again."""

_CREATE = """201 when stored. A stored `id` again (an offline copy synced): the same body is 200
with the stored record; another body is an update (200) when its `version` is newer than the
stored one (the record takes that version), else 409 with the server's copy as `current` (its
tombstone when it was deleted). 409 too when another user has that id."""

_REPEATED = "Already stored with this id: the stored record (updated when the body's version is newer)"

_REPLACE = """Replace the record's fields. The version edited goes in If-Match or `version`; when
the record has moved on since, 409 with the server's copy as `current`, and nothing changes."""


for _name, _spec in NAMES.items():
    _add_routes(_spec, _name)


@router.api_route(
    "/{dimension}", methods=["GET", "POST"], include_in_schema=False, responses=error_responses(NotFound)
)
@router.api_route(
    "/{dimension}/{record_id}",
    methods=["GET", "PUT", "DELETE"],
    include_in_schema=False,
    responses=error_responses(NotFound),
)
async def unknown_dimension(dimension: str, _user: CurrentUser) -> None:
    raise dimensions.unknown_dimension(dimension)
