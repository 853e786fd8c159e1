"""`/records/{dimension}` for the five dimensions. Each gets its own routes (and its own
schemas in the OpenAPI document); any other dimension is a 404 that names the valid ones."""

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from keel.apps.coach.deps import CurrentUser, ReadLimit, WriteLimit
from keel.apps.coach.services import privacy, records
from keel.apps.coach.services.records import DIMENSIONS, DimensionSpec
from keel.core.db import AppDatabase, DbSession, ReadDb, TransactionalRoute
from keel.core.errors import (
    Conflict,
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


def _add_routes(spec: DimensionSpec) -> None:
    name = spec.name.value
    out, create_schema, update_schema = spec.out, spec.create, spec.update

    @router.get(
        f"/{name}",
        name=f"list_{name}",
        response_model=Page[out],  # type: ignore[valid-type]
        responses=error_responses(Unauthorized),
        dependencies=[ReadLimit],
    )
    async def list_records(
        user: CurrentUser,
        db: ReadDb,
        page: PageParams,
        since: Annotated[dt.date | None, Query(alias="from", description="On or after this date")] = None,
        until: Annotated[dt.date | None, Query(alias="to", description="On or before this date")] = None,
    ) -> Any:
        """Newest day first."""
        rows, total = await fetch_page(db, records.listing(spec, user.id, since, until), page)
        return page_of([dict(row._mapping) for row in rows], total, page)

    @router.post(
        f"/{name}",
        name=f"create_{name}",
        status_code=201,
        response_model=out,
        responses={200: {"model": out, "description": "Already stored with this id: the stored record"}}
        | error_responses(Unauthorized, Conflict),
        dependencies=[WriteLimit],
    )
    async def create(
        data: create_schema,  # type: ignore[valid-type]
        user: CurrentUser,
        database: AppDatabase,
        session: DbSession,
    ) -> Response:
        """201 when stored; 200 with the stored record when its `id` was stored before."""
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
        response_model=out,
        responses=error_responses(Unauthorized, NotFound, Conflict, PreconditionRequired),
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
        """Replace the record's fields. The version edited goes in If-Match or `version`; when
        the record has moved on since, 409 and nothing changes."""
        record = await records.replace(session, spec, user.id, record_id, data, _if_match(if_match))
        response.headers.update(_etag(record))
        return record

    @router.delete(
        f"/{name}/{{record_id}}",
        name=f"delete_{name}",
        status_code=204,
        response_class=Response,
        responses=error_responses(Unauthorized, NotFound),
        dependencies=[WriteLimit],
    )
    async def remove(record_id: uuid.UUID, request: Request, user: CurrentUser, session: DbSession) -> None:
        await records.remove(session, spec, user.id, record_id)
        await privacy.audit(session, user.id, "record.delete", f"{name}:{record_id}", client_address(request))


for _spec in DIMENSIONS.values():
    _add_routes(_spec)


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
    raise records.unknown_dimension(dimension)
