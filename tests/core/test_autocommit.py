"""Autocommit.fetch_all (precompiled on the driver where it can be) returns exactly what a
plain SQLAlchemy execution returns: the same keys, values and types, on every dialect; its
writes are committed by themselves; and the connections it keeps between statements recover
when the server ends them."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, insert, select, text

from keel.apps.shop.models import Category, Order, Product, User
from keel.core.db import Database, fetch_all, fetch_one, utcnow


async def _seed(database: Database) -> None:
    now = datetime(2026, 11, 23, 8, 30, 15, 123456, tzinfo=UTC)
    async with database.engine.begin() as connection:
        await connection.execute(
            insert(Category), [{"id": 1, "name": "Books", "created_at": now, "updated_at": now}]
        )
        await connection.execute(
            insert(Product),
            [
                {
                    "id": 1,
                    "name": "Raft",
                    "price": Decimal("42.90"),
                    "stock": 3,
                    "category_id": 1,
                    "created_at": now,
                    "updated_at": now,
                },
                {
                    "id": 2,
                    "name": "Loose",
                    "price": Decimal("0.10"),
                    "stock": 0,
                    "category_id": None,
                    "created_at": now,
                    "updated_at": now,
                },
            ],
        )
        await connection.execute(
            insert(User),
            [
                {
                    "id": 1,
                    "username": "mei",
                    "username_key": "mei",
                    "email": "mei@example.com",
                    "hashed_password": "x",
                    "is_admin": True,
                    "is_active": True,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        await connection.execute(
            insert(Order),
            [
                {
                    "id": 1,
                    "user_id": 1,
                    "total_amount": Decimal("85.80"),
                    "status": "paid",
                    "shipping_address": {"city": "Taipei", "lines": ["1 Xinyi Rd"]},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )


STATEMENTS = {
    "products with their category": select(
        Product.id,
        Product.price,
        Product.created_at,
        Product.deleted_at,
        Category.name.label("category_name"),
    )
    .outerjoin(Category, Category.id == Product.category_id)
    .where(Product.stock >= bindparam("min_stock"))
    .order_by(Product.id),
    "an order with JSON": select(Order.id, Order.total_amount, Order.shipping_address, Order.paid_at).where(
        Order.id == bindparam("order_id")
    ),
    "a user with booleans": select(User.__table__).where(User.id == bindparam("user_id")),
}
PARAMETERS = {"min_stock": 0, "order_id": 1, "user_id": 1}


async def test_fetch_all_matches_a_plain_execution(shop_database: Database) -> None:
    await _seed(shop_database)
    try:
        for name, statement in STATEMENTS.items():
            parameters = {key: PARAMETERS[key] for key in statement.compile().params}
            expected = [
                dict(row)
                for row in (await shop_database.autocommit.execute(statement, parameters)).mappings()
            ]
            assert expected, name
            # Twice: the first call prepares the statement, the second uses what was prepared.
            for _ in range(2):
                rows = await shop_database.autocommit.fetch_all(statement, parameters)
                assert rows == expected, name
                assert [{k: type(v) for k, v in row.items()} for row in rows] == [
                    {k: type(v) for k, v in row.items()} for row in expected
                ], name
        created = await fetch_one(
            shop_database.autocommit, STATEMENTS["products with their category"], {"min_stock": 1}
        )
        assert created is not None
        assert created["created_at"] == datetime(2026, 11, 23, 8, 30, 15, 123456, tzinfo=UTC)
        assert created["price"] == Decimal("42.90")
        assert (
            await fetch_one(
                shop_database.autocommit, STATEMENTS["products with their category"], {"min_stock": 99}
            )
            is None
        )
    finally:
        async with shop_database.engine.begin() as connection:
            for model in (Order, User, Product, Category):
                await connection.execute(model.__table__.delete())


async def test_a_write_in_autocommit_is_committed_by_itself(shop_database: Database) -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    row = {"id": 7, "name": "Maps", "created_at": now, "updated_at": now}
    try:
        for _ in range(2):  # the second time on a connection kept from the first
            await shop_database.autocommit.execute(insert(Category), row)
            # Seen at once from a connection of the other engine, without any commit.
            async with shop_database.engine.connect() as other:
                names = (await other.execute(select(Category.name).where(Category.id == 7))).scalars()
                assert list(names) == ["Maps"]
            await shop_database.autocommit.execute(Category.__table__.delete())
    finally:
        async with shop_database.engine.begin() as connection:
            await connection.execute(Category.__table__.delete())


async def _end_other_connections(database: Database, dialect: str) -> None:
    """What a database restart does to the connections a process keeps: the server ends them."""
    async with database.engine.connect() as connection:
        if dialect == "postgresql":
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        else:
            ids = await connection.execute(
                text(
                    "SELECT id FROM information_schema.processlist"
                    " WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            )
            for (connection_id,) in ids.all():
                await connection.execute(text(f"KILL {int(connection_id)}"))


async def test_reads_recover_when_the_server_ended_the_connections(
    shop_database: Database, dialect: str
) -> None:
    if dialect == "sqlite":
        pytest.skip("SQLite has no server to end a connection")
    statement = STATEMENTS["a user with booleans"]
    # Every kept connection in use at once, so that all of them are kept afterwards.
    await asyncio.gather(*(shop_database.autocommit.fetch_all(statement, {"user_id": 1}) for _ in range(4)))
    await _end_other_connections(shop_database, dialect)
    failures = 0
    for _ in range(10):
        try:
            assert await shop_database.autocommit.fetch_all(statement, {"user_id": 1}) == []
            break
        except Exception:  # each connection ended under the process fails one read, then is dropped
            failures += 1
    else:
        pytest.fail("reads kept failing after the server ended the connections")
    # At most one per connection the process held: the test engines keep 2 and pool 2.
    assert failures <= 4
    # From here on every read succeeds.
    for _ in range(4):
        assert await shop_database.autocommit.fetch_all(statement, {"user_id": 1}) == []


async def test_a_write_of_one_statement_returns_what_was_stored(shop_database: Database) -> None:
    """fetch_all takes an INSERT ... RETURNING: committed by itself in autocommit, part of the
    transaction in a session, and in both the row as stored, with the columns' defaults."""
    new_category = insert(Category).values(name=bindparam("name")).returning(Category.id)
    statement = (
        insert(Product)
        .values(name=bindparam("name"), price=bindparam("price"), category_id=bindparam("category_id"))
        .returning(
            Product.id, Product.name, Product.price, Product.stock, Product.created_at, Product.deleted_at
        )
    )
    written = select(Product.name).where(Product.id == bindparam("product_id"))
    try:
        [category] = await fetch_all(shop_database.autocommit, new_category, {"name": "Books"})
        parameters = {"name": "Paxos", "price": Decimal("9.50"), "category_id": category["id"]}
        before = utcnow()
        [created] = await fetch_all(shop_database.autocommit, statement, parameters)
        assert before <= created.pop("created_at") <= utcnow()
        product_id = created.pop("id")
        assert created == {"name": "Paxos", "price": Decimal("9.50"), "stock": 0, "deleted_at": None}
        async with shop_database.engine.connect() as connection:  # another connection sees it
            assert (await connection.execute(written, {"product_id": product_id})).scalar_one() == "Paxos"

        async with shop_database.sessionmaker() as session:
            [pending] = await fetch_all(session, statement, {**parameters, "name": "Rolled back"})
            assert (
                await session.execute(written, {"product_id": pending["id"]})
            ).scalar_one() == "Rolled back"
            await session.rollback()
        assert await fetch_one(shop_database.autocommit, written, {"product_id": pending["id"]}) is None
    finally:
        async with shop_database.engine.begin() as connection:
            for model in (Product, Category):
                await connection.execute(model.__table__.delete())
