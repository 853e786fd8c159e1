"""Categories and products, and the bestseller ranking."""

from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.shop.models import Category, Order, OrderItem, Product
from keel.apps.shop.schemas import (
    CategoryCreate,
    CategoryUpdate,
    OrderStatus,
    ProductCreate,
    ProductSort,
    ProductUpdate,
)
from keel.core.db import Autocommit, Executor, fetch_all, fetch_one, utcnow
from keel.core.errors import Conflict, NotFound
from keel.core.pagination import Offset
from keel.core.params import MAX_INT_ID
from keel.core.sql import is_tidb

# Orders that count as sales: paid for and not cancelled (spec 003, section 5.4).
SOLD_STATUSES = (OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered)

# The catalogue's reads are the hottest paths, so their statements are built once, with bound
# parameters, and run as Core queries on plain rows: no ORM objects to build per request.
_SUMMARY = (Product.id, Product.name, Product.price, Product.image_url, Product.stock, Product.category_id)
_LIVE = Product.deleted_at.is_(None)

_SORTS = {
    None: (Product.id.asc(),),
    ProductSort.price_asc: (Product.price.asc(), Product.id.asc()),
    ProductSort.price_desc: (Product.price.desc(), Product.id.asc()),
    ProductSort.name_asc: (Product.name.asc(), Product.id.asc()),
    ProductSort.newest: (Product.created_at.desc(), Product.id.desc()),
}

_DETAIL = (
    select(
        *_SUMMARY,
        Product.description,
        Product.created_at,
        Product.updated_at,
        Category.name.label("category_name"),
        Category.description.label("category_description"),
    )
    .outerjoin(Category, Category.id == Product.category_id)
    .where(Product.id == bindparam("product_id"), _LIVE)
)

_CATEGORY = select(Category.id, Category.name, Category.description).where(
    Category.id == bindparam("category_id")
)
# RETURNING gives back what was stored, so the 201 shows what GET will; created_at and
# updated_at come from the columns' defaults, as through the ORM.
_INSERT = (
    insert(Product)
    .values({name: bindparam(name) for name in ProductCreate.model_fields})
    .returning(*_SUMMARY, Product.description, Product.created_at, Product.updated_at)
)

_total_sold = func.sum(OrderItem.quantity).label("total_sold")
_SOLD = (
    select(OrderItem.product_id, _total_sold)
    .join(Order, Order.id == OrderItem.order_id)
    .where(Order.status.in_(SOLD_STATUSES))
    .group_by(OrderItem.product_id)
)
# TiDB's hint applies to the query block it follows (spec 003, section 7: the ranking should
# run on TiFlash when it is configured): the aggregation over every sale, the analytical
# scan, reads the column store; the join to the few ranked products is left to the optimizer.
# A replica still syncing makes TiDB ignore the hint with a warning and read TiKV.
TIFLASH_HINT = "/*+ READ_FROM_STORAGE(TIFLASH[order_items, orders]) */"


def _bestsellers_statement(sold: Select[Any]) -> Select[Any]:
    ranked = sold.subquery()
    return (
        select(*_SUMMARY, ranked.c.total_sold)
        .join(ranked, ranked.c.product_id == Product.id)
        .where(_LIVE)
        .order_by(ranked.c.total_sold.desc(), Product.id)
        .limit(bindparam("limit"))
    )


_BESTSELLERS = _bestsellers_statement(_SOLD)
BESTSELLERS_ON_TIFLASH = _bestsellers_statement(_SOLD.prefix_with(TIFLASH_HINT, dialect="mysql"))


# LIKE's wildcards in the searched text stand for themselves.
_ESCAPE = "/"


def _like_pattern(text: str) -> str:
    escaped = text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    return f"%{escaped}%"


@cache
def _filtered(by_category: bool, by_category_id: bool, by_name: bool) -> Select[Any]:
    """The live products the filters keep, for the page and for its total alike."""
    statement = select(*_SUMMARY).where(_LIVE)
    if by_category:
        # Case-insensitive on every dialect (MariaDB's collation already is; the others are not).
        match = func.lower(Category.name) == bindparam("category_name")
        if by_category_id:
            match = match | (Category.id == bindparam("category_id"))
        statement = statement.join(Category, Product.category_id == Category.id).where(match)
    if by_name:
        # ILIKE on PostgreSQL, lower() on both sides elsewhere: a scan of the live products,
        # which no index serves for a substring; the catalogue is small enough (README).
        statement = statement.where(Product.name.ilike(bindparam("name_pattern"), escape=_ESCAPE))
    return statement


@cache
def _list_statement(
    sort: ProductSort | None, by_category: bool, by_category_id: bool, by_name: bool
) -> Select[Any]:
    statement = _filtered(by_category, by_category_id, by_name)
    return statement.order_by(*_SORTS[sort]).offset(bindparam("skip")).limit(bindparam("limit"))


@cache
def _count_statement(by_category: bool, by_category_id: bool, by_name: bool) -> Select[Any]:
    filtered = _filtered(by_category, by_category_id, by_name)
    return select(func.count().label("total")).select_from(filtered.with_only_columns(Product.id).subquery())


async def list_products(
    db: Executor, page: Offset, *, category: str | None, q: str | None, sort: ProductSort | None
) -> tuple[list[dict[str, Any]], int]:
    """One page of the catalogue and how many products the filters keep across all pages."""
    params: dict[str, Any] = {"skip": page.skip, "limit": page.limit}
    # The spec's filter is a category name; a numeric value is taken as its id as well: ASCII
    # digits only ("²".isdigit() is true but int() refuses it), and only ids that fit the column.
    by_id = (
        category is not None
        and category.isascii()
        and category.isdigit()
        and 1 <= int(category) <= MAX_INT_ID
    )
    if category is not None:
        params["category_name"] = category.lower()
    if by_id:
        params["category_id"] = int(category)  # type: ignore[arg-type]
    if q:
        params["name_pattern"] = _like_pattern(q)
    filters = (category is not None, by_id, bool(q))
    products = await fetch_all(db, _list_statement(sort, *filters), params)
    if (products and len(products) < page.limit) or (not page.skip and not products):
        # The last page (or the only one) tells the total itself: no second statement.
        return products, page.skip + len(products)
    [counted] = await fetch_all(db, _count_statement(*filters), params)
    return products, counted["total"]


async def get_product(db: Executor, product_id: int) -> dict[str, Any]:
    """The product with its category, as `ProductDetailOut` reads it."""
    product = await fetch_one(db, _DETAIL, {"product_id": product_id})
    if product is None:
        raise NotFound("Product not found")
    name, description = product.pop("category_name"), product.pop("category_description")
    category_id = product["category_id"]
    product["category"] = (
        None if category_id is None else {"id": category_id, "name": name, "description": description}
    )
    return product


async def bestsellers(db: Executor, limit: int, *, tiflash: bool = False) -> list[dict[str, Any]]:
    """`tiflash`: the TiFlash replicas are configured (KEEL_SHOP_TIDB_TIFLASH_REPLICAS); the
    hint is sent to TiDB only, which `is_tidb` asks the server once per engine."""
    statement = BESTSELLERS_ON_TIFLASH if tiflash and await is_tidb(db) else _BESTSELLERS
    return await fetch_all(db, statement, {"limit": limit})


async def _product_for_update(session: AsyncSession, product_id: int) -> Product:
    product = (await session.scalars(select(Product).where(Product.id == product_id, _LIVE))).one_or_none()
    if product is None:
        raise NotFound("Product not found")
    return product


async def create_product(db: Autocommit, data: ProductCreate) -> dict[str, Any]:
    """Two statements in autocommit, and no transaction: the insert is atomic by itself, and
    a category deleted after it was read fails the insert's foreign key, as it would in a
    transaction (READ COMMITTED does not hold the category either)."""
    category = None
    if data.category_id is not None:
        category = await fetch_one(db, _CATEGORY, {"category_id": data.category_id})
        if category is None:
            raise NotFound(f"Category {data.category_id} not found")
    [product] = await fetch_all(db, _INSERT, data.model_dump())
    return {**product, "category": category}


async def update_product(session: AsyncSession, product_id: int, data: ProductUpdate) -> dict[str, Any]:
    product = await _product_for_update(session, product_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if changes.get("category_id") is not None:
        await get_category(session, changes["category_id"])
    for field, value in changes.items():
        setattr(product, field, value)
    await session.flush()
    return await get_product(session, product_id)


async def delete_product(session: AsyncSession, product_id: int) -> None:
    product = await _product_for_update(session, product_id)
    ordered = (
        await session.execute(select(OrderItem.id).where(OrderItem.product_id == product_id).limit(1))
    ).first()
    if ordered:
        product.deleted_at = utcnow()
    else:
        await session.delete(product)
    await session.flush()


async def list_categories(session: AsyncSession) -> list[Category]:
    return list((await session.scalars(select(Category).order_by(Category.name))).all())


async def get_category(session: AsyncSession, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None:
        raise NotFound(f"Category {category_id} not found")
    return category


async def _name_taken(session: AsyncSession, name: str, exclude_id: int | None = None) -> bool:
    # "Books" and "books" are one category on every dialect, as MariaDB's collation has it.
    statement = select(Category.id).where(func.lower(Category.name) == name.lower())
    if exclude_id is not None:
        statement = statement.where(Category.id != exclude_id)
    return (await session.execute(statement)).first() is not None


async def create_category(session: AsyncSession, data: CategoryCreate) -> Category:
    if await _name_taken(session, data.name):
        raise Conflict(f"Category {data.name!r} already exists")
    category = Category(**data.model_dump())
    session.add(category)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"Category {data.name!r} already exists") from None
    return category


async def update_category(session: AsyncSession, category_id: int, data: CategoryUpdate) -> Category:
    category = await get_category(session, category_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is not None and await _name_taken(
        session, changes["name"], exclude_id=category_id
    ):
        raise Conflict(f"Category {changes['name']!r} already exists")
    for field, value in changes.items():
        setattr(category, field, value)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"Category {changes['name']!r} already exists") from None
    await session.refresh(category)
    return category


async def delete_category(session: AsyncSession, category_id: int) -> None:
    category = await get_category(session, category_id)
    # Its products stay on sale, uncategorised (explicit, so it holds on every dialect).
    await session.execute(update(Product).where(Product.category_id == category_id).values(category_id=None))
    await session.delete(category)
    await session.flush()
