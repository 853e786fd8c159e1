"""Paging parameters and the page envelope, for lists that are bare arrays (skip/limit) and
for lists that carry their total (page/limit)."""

import math
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


@dataclass(frozen=True, slots=True)
class Offset:
    skip: int
    limit: int


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


async def _page(
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET // MAX_LIMIT, description="Page number, from 1")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 20,
) -> PageRequest:
    return PageRequest(page, limit)


PageParams = Annotated[PageRequest, Depends(_page)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    limit: int
    total_pages: int


async def fetch_page(db: Executor, statement: Select[Any], request: PageRequest) -> tuple[list[Any], int]:
    """The rows of one page and the total across all pages."""
    total = (
        await db.execute(select(func.count()).select_from(statement.order_by(None).subquery()))
    ).scalar_one()
    rows = (await db.execute(statement.limit(request.limit).offset(request.offset))).all()
    return list(rows), total


def page_of(items: list[T], total: int, request: PageRequest) -> Page[T]:
    return Page[T](
        items=items,
        total=total,
        page=request.page,
        limit=request.limit,
        total_pages=math.ceil(total / request.limit) if total else 0,
    )
