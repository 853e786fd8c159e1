"""Paging parameters and the page envelope, for lists that are bare arrays (skip/limit) and
for lists that carry their total (page/limit). Every paged list counts and slices its rows
here (`fetch_page`, `total_pages`), whatever names its spec gives the envelope's fields."""

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select

from keel.core.db import Executor

MAX_LIMIT = 100
# Beyond any real list, and within every dialect's OFFSET range.
MAX_OFFSET = 2**31 - 1
T = TypeVar("T")
# The total across all pages of a list answered as a bare array (exposed to browsers by CORS).
TOTAL_COUNT = "X-Total-Count"


@dataclass(frozen=True, slots=True)
class Offset:
    skip: int
    limit: int

    @property
    def offset(self) -> int:
        # As PageRequest's, so `fetch_page` slices and counts a skip/limit list too.
        return self.skip


async def _offset(
    skip: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows to return")] = 10,
) -> Offset:
    return Offset(skip, limit)


OffsetParams = Annotated[Offset, Depends(_offset)]


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def page_params(default_limit: int) -> Callable[..., Awaitable[PageRequest]]:
    """The page/limit dependency, with the default page size the list's spec gives:
    `Annotated[PageRequest, Depends(page_params(50))]`."""

    async def _page(
        page: Annotated[int, Query(ge=1, le=MAX_OFFSET // MAX_LIMIT, description="Page number, from 1")] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = default_limit,
    ) -> PageRequest:
        return PageRequest(page, limit)

    return _page


PageParams = Annotated[PageRequest, Depends(page_params(20))]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    limit: int
    total_pages: int


async def fetch_page(
    db: Executor, statement: Select[Any], request: PageRequest | Offset, *, total: int | None = None
) -> tuple[list[Any], int]:
    """The rows of one page and the total across all pages; a caller that has counted the rows
    already (with other counts, in the same statement) gives its `total`."""
    if total is None:
        counting = select(func.count()).select_from(statement.order_by(None).subquery())
        total = (await db.execute(counting)).scalar_one()
    rows = (await db.execute(statement.limit(request.limit).offset(request.offset))).all()
    return list(rows), total


def total_pages(total: int, request: PageRequest) -> int:
    return math.ceil(total / request.limit) if total else 0


def page_of(items: list[T], total: int, request: PageRequest) -> Page[T]:
    return Page[T](
        items=items,
        total=total,
        page=request.page,
        limit=request.limit,
        total_pages=total_pages(total, request),
    )
