"""Categories and products, and the bestseller ranking."""

from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from keel.apps.shop.models import Category, Order, OrderItem, Product
from keel.apps.shop.schemas import (
    CategoryCreate,
    CategoryUpdate,
    OrderStatus,
    ProductCreate,
    ProductSort,
    ProductUpdate,
)
from keel.core.db import utcnow
from keel.core.errors import Conflict, NotFound
from keel.core.pagination import Offset
from keel.core.params import MAX_INT_ID

_SORTS = {
    ProductSort.price_asc: (Product.price.asc(), Product.id.asc()),
    ProductSort.price_desc: (Product.price.desc(), Product.id.asc()),
    ProductSort.name_asc: (Product.name.asc(), Product.id.asc()),
    ProductSort.newest: (Product.created_at.desc(), Product.id.desc()),
}

# Orders that count as sales: paid for and not cancelled (spec 003, section 5.4).
SOLD_STATUSES = (OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered)


def _live_products() -> Select[tuple[Product]]:
    return select(Product).where(Product.deleted_at.is_(None))


async def list_products(
    session: AsyncSession, page: Offset, *, category: str | None, sort: ProductSort | None
) -> list[Product]:
    statement = _live_products()
    if category is not None:
        # The spec's filter is a category name; a numeric value is taken as its id as well.
        # Case-insensitive on every dialect (MariaDB's collation already is; the others are not).
        match = func.lower(Category.name) == category.lower()
        # ASCII digits only ("²".isdigit() is true but int() refuses it), and only ids that fit
        # the column: a longer number can name a category but cannot be an id.
        if category.isascii() and category.isdigit() and 1 <= int(category) <= MAX_INT_ID:
            match = match | (Category.id == int(category))
        statement = statement.join(Category, Product.category_id == Category.id).where(match)
    statement = statement.order_by(*_SORTS[sort]) if sort else statement.order_by(Product.id)
    return list((await session.scalars(statement.offset(page.skip).limit(page.limit))).all())


async def get_product(session: AsyncSession, product_id: int) -> Product:
    product = (
        await session.scalars(
            _live_products().where(Product.id == product_id).options(joinedload(Product.category))
        )
    ).one_or_none()
    if product is None:
        raise NotFound("Product not found")
    return product


async def bestsellers(session: AsyncSession, limit: int) -> list[tuple[Product, int]]:
    total_sold = func.sum(OrderItem.quantity).label("total_sold")
    sold = (
        select(OrderItem.product_id, total_sold)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.status.in_(SOLD_STATUSES))
        .group_by(OrderItem.product_id)
        .subquery()
    )
    statement = (
        select(Product, sold.c.total_sold)
        .join(sold, sold.c.product_id == Product.id)
        .where(Product.deleted_at.is_(None))
        .order_by(sold.c.total_sold.desc(), Product.id)
        .limit(limit)
    )
    return [(product, int(count)) for product, count in (await session.execute(statement)).all()]


async def create_product(session: AsyncSession, data: ProductCreate) -> Product:
    if data.category_id is not None:
        await get_category(session, data.category_id)
    product = Product(**data.model_dump())
    session.add(product)
    await session.flush()
    product_id = product.id
    # Read back what was stored (MariaDB keeps whole seconds), so the 201 shows what GET will.
    session.expire(product)
    return await get_product(session, product_id)


async def update_product(session: AsyncSession, product_id: int, data: ProductUpdate) -> Product:
    product = await get_product(session, product_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if changes.get("category_id") is not None:
        await get_category(session, changes["category_id"])
    for field, value in changes.items():
        setattr(product, field, value)
    await session.flush()
    session.expire(product)
    return await get_product(session, product_id)


async def delete_product(session: AsyncSession, product_id: int) -> None:
    product = await get_product(session, product_id)
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
