"""Every app's migrations walk up and down on every dialect, and leave exactly the schema its
models describe (so a model change without a migration fails here)."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from keel.apps import APP_SLUGS, load_app
from keel.core.migrations import downgrade_async, upgrade_async
from tests.databases import drop_database, fresh_database


def _differences(connection, slug: str) -> list:
    opts = {"compare_type": True, "version_table": f"alembic_version_{slug}"}
    return compare_metadata(MigrationContext.configure(connection, opts=opts), load_app(slug).metadata)


@pytest.mark.parametrize("slug", APP_SLUGS)
async def test_migrations_walk_up_and_down_and_match_the_models(
    slug: str, dialect: str, data_dir: Path
) -> None:
    keel_app = load_app(slug)
    url = await fresh_database(dialect, f"keel_test_migrations_{slug}", data_dir)
    engine = create_async_engine(url)
    try:
        await upgrade_async(keel_app, url)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences, slug) == []
        await downgrade_async(keel_app, url)
        async with engine.connect() as connection:
            left = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert left == [f"alembic_version_{slug}"]
        await upgrade_async(keel_app, url)
    finally:
        await engine.dispose()
        await drop_database(dialect, url)
