"""core/sql.py: every database handle names its dialect the same way, and the statements
spelled per dialect do the same thing on each."""

from sqlalchemy import func, select

from keel.apps.shop.models import Category
from keel.core.db import Database, utcnow
from keel.core.sql import by_dialect, dialect_of, insert_skipping_duplicates


async def test_every_handle_names_its_dialect(shop_database: Database, dialect: str) -> None:
    expected = "mysql" if dialect == "mariadb" else dialect
    async with shop_database.sessionmaker() as session, shop_database.engine.connect() as connection:
        handles = (shop_database, shop_database.autocommit, shop_database.engine, session, connection)
        assert [dialect_of(handle) for handle in handles] == [expected] * len(handles)
    assert by_dialect(shop_database, {expected: "own"}, default="other") == "own"
    assert by_dialect(shop_database, {"oracle": "own"}, default="other") == "other"


async def test_an_insert_skipping_duplicates_stores_each_key_once(shop_database: Database) -> None:
    now = utcnow()
    rows = [{"name": name, "created_at": now, "updated_at": now} for name in ("Skip A", "Skip B")]
    try:
        async with shop_database.sessionmaker() as session:
            statement = insert_skipping_duplicates(session, Category.__table__, ["name"])
            await session.execute(statement, rows[:1])
            await session.execute(statement, rows)  # no error for the stored "Skip A"
            await session.commit()
        async with shop_database.sessionmaker() as session:
            names = (
                select(Category.name, func.count())
                .where(Category.name.like("Skip %"))
                .group_by(Category.name)
            )
            assert sorted((await session.execute(names)).all()) == [("Skip A", 1), ("Skip B", 1)]
    finally:
        async with shop_database.engine.begin() as connection:
            await connection.execute(Category.__table__.delete().where(Category.name.like("Skip %")))


async def test_lower_folds_every_letter_on_every_dialect(shop_database: Database) -> None:
    # SQLite's built-in lower() leaves non-ASCII letters as they are; keel's connections fold them.
    statement = select(func.lower("ÉLODIE Ärger 李明"), func.lower(None))
    async with shop_database.engine.connect() as connection:
        assert (await connection.execute(statement)).one() == ("élodie ärger 李明", None)
    assert (await shop_database.autocommit.execute(statement)).one() == ("élodie ärger 李明", None)
