"""TiDB (issue 13 item 7): the TiFlash hint on the bestsellers ranking, AUTO_RANDOM order ids and
TiFlash replicas from migration 0006. No TiDB runs here: its SQL is checked as text, compiled
for the MySQL dialect, and MariaDB shows the ranking answers the same with the setting on."""

import importlib.util
import io
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import event
from sqlalchemy.dialects import mysql, postgresql, sqlite

from keel.apps import shop as shop_app
from keel.apps.shop.services import catalog
from keel.core import sql as core_sql
from keel.core.db import Database
from keel.core.sql import says_tidb
from keel.settings import Settings
from tests.apps.shop import builders
from tests.apps.shop.builders import Account
from tests.apps.shop.test_products import paid_order

HINT = "SELECT /*+ READ_FROM_STORAGE(TIFLASH[order_items, orders]) */ order_items.product_id"


def _migration() -> ModuleType:
    path = Path(shop_app.__file__).parent / "migrations" / "20261206_tidb.py"
    spec = importlib.util.spec_from_file_location("shop_migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- telling TiDB ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "tidb"),
    [
        ("8.0.11-TiDB-v7.5.1", True),
        ("5.7.25-TiDB-v6.5.0", True),
        ("11.4.2-MariaDB-ubu2204", False),
        ("8.0.36", False),
    ],
)
def test_tidb_is_told_by_its_version_string(version: str, tidb: bool) -> None:
    assert says_tidb(version) is tidb


# --- the hint -------------------------------------------------------------------------------


def test_the_tiflash_statement_hints_the_aggregation_over_the_sales_tables() -> None:
    sql = str(catalog.BESTSELLERS_ON_TIFLASH.compile(dialect=mysql.dialect()))
    # In the subquery's block, where order_items and orders are read under their own names.
    assert HINT in sql
    assert sql.count("READ_FROM_STORAGE") == 1
    assert sql.startswith("SELECT products.id")


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()])
def test_the_hint_is_never_rendered_for_another_dialect(dialect: Any) -> None:
    assert "READ_FROM_STORAGE" not in str(catalog.BESTSELLERS_ON_TIFLASH.compile(dialect=dialect))


@pytest.fixture
def sent(shop_database: Database) -> Iterator[list[str]]:
    """Every statement the shop's read engine sends."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = shop_database.autocommit_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield statements
    event.remove(engine, "before_cursor_execute", record)


async def _ranking(shop: httpx.AsyncClient, admin: Account, buyer: Account) -> tuple[int, int]:
    first, second = (await builders.product(shop, admin))["id"], (await builders.product(shop, admin))["id"]
    await paid_order(shop, buyer, (first, 1), (second, 3))
    await paid_order(shop, buyer, (first, 1))
    return second, first


def _ranked(response: httpx.Response) -> list[tuple[int, int]]:
    assert response.status_code == 200, response.text
    return [(row["id"], row["total_sold"]) for row in response.json()]


async def test_with_replicas_set_a_database_that_is_not_tidb_ranks_the_same_without_the_hint(
    shop: httpx.AsyncClient,
    admin: Account,
    buyer: Account,
    settings: Settings,
    sent: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    second, first = await _ranking(shop, admin, buyer)
    without = _ranked(await shop.get("/api/products/bestsellers"))
    monkeypatch.setattr(settings, "shop_tidb_tiflash_replicas", 2)
    sent.clear()
    assert _ranked(await shop.get("/api/products/bestsellers")) == without == [(second, 3), (first, 2)]
    assert any("total_sold" in statement for statement in sent)
    assert not any("READ_FROM_STORAGE" in statement for statement in sent)


async def test_a_server_that_says_tidb_is_sent_the_hint_only_with_replicas_set(
    dialect: str,
    shop: httpx.AsyncClient,
    shop_database: Database,
    admin: Account,
    buyer: Account,
    settings: Settings,
    sent: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if dialect != "mariadb":
        pytest.skip("the MySQL dialect only: TiDB speaks it")
    # MariaDB standing in for TiDB: the version answer is taken as TiDB's, and MariaDB reads
    # the hint as a comment, so the ranking must come out as it does without it.
    monkeypatch.setitem(core_sql._tidb_dialects, shop_database.autocommit_engine.dialect, True)
    second, first = await _ranking(shop, admin, buyer)
    assert _ranked(await shop.get("/api/products/bestsellers")) == [(second, 3), (first, 2)]
    assert not any("READ_FROM_STORAGE" in statement for statement in sent)
    monkeypatch.setattr(settings, "shop_tidb_tiflash_replicas", 2)
    sent.clear()
    assert _ranked(await shop.get("/api/products/bestsellers")) == [(second, 3), (first, 2)]
    assert next(statement for statement in sent if "total_sold" in statement).count(HINT) == 1


async def test_mariadb_is_not_taken_for_tidb(dialect: str, shop_database: Database) -> None:
    if dialect != "mariadb":
        pytest.skip("the MySQL dialect only")
    assert await core_sql.is_tidb(shop_database.autocommit) is False


# --- migration 0006 -------------------------------------------------------------------------


def _upgrade_sql(
    monkeypatch: pytest.MonkeyPatch, *, tidb: bool, clustered: bool = True, replicas: int = 0
) -> str:
    """The migration's upgrade rendered for MySQL as alembic's offline mode writes it, with the
    server's answers (TiDB or not, the key clustered or not) given."""
    migration = _migration()
    monkeypatch.setattr(migration, "connection_is_tidb", lambda _bind: tidb)
    monkeypatch.setattr(migration, "_clustered", lambda _bind: clustered)
    monkeypatch.setattr(migration, "get_settings", lambda: Settings(shop_tidb_tiflash_replicas=replicas))
    buffer = io.StringIO()
    context = MigrationContext.configure(dialect_name="mysql", opts={"as_sql": True, "output_buffer": buffer})
    with Operations.context(context):
        monkeypatch.setattr(migration.op, "get_bind", lambda: type("Bind", (), {"dialect": mysql.dialect()}))
        migration.upgrade()
    return buffer.getvalue()


def _statements(sql: str) -> list[str]:
    return [" ".join(part.split()) for part in sql.split(";") if part.strip()]


def test_on_tidb_orders_get_auto_random_keys_and_the_ranking_tables_tiflash_replicas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _statements(_upgrade_sql(monkeypatch, tidb=True, replicas=2)) == [
        "ALTER TABLE order_items DROP FOREIGN KEY fk_order_items_order_id_orders",
        "ALTER TABLE order_items MODIFY order_id BIGINT NOT NULL",
        "ALTER TABLE payment_attempts DROP FOREIGN KEY fk_payment_attempts_order_id_orders",
        "ALTER TABLE payment_attempts MODIFY order_id BIGINT NOT NULL",
        "ALTER TABLE orders MODIFY id BIGINT NOT NULL AUTO_INCREMENT",
        "ALTER TABLE orders MODIFY COLUMN id BIGINT AUTO_RANDOM(5, 54)",
        "ALTER TABLE order_items ADD CONSTRAINT fk_order_items_order_id_orders FOREIGN KEY(order_id)"
        " REFERENCES orders (id) ON DELETE CASCADE",
        "ALTER TABLE payment_attempts ADD CONSTRAINT fk_payment_attempts_order_id_orders"
        " FOREIGN KEY(order_id) REFERENCES orders (id) ON DELETE CASCADE",
        "ALTER TABLE orders SET TIFLASH REPLICA 2",
        "ALTER TABLE order_items SET TIFLASH REPLICA 2",
        "ALTER TABLE products SET TIFLASH REPLICA 2",
    ]


def test_on_tidb_without_replicas_set_tiflash_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    sql = _upgrade_sql(monkeypatch, tidb=True)
    assert "AUTO_RANDOM(5, 54)" in sql
    assert "TIFLASH" not in sql


def test_a_nonclustered_tidb_key_keeps_auto_increment(monkeypatch: pytest.MonkeyPatch) -> None:
    sql = _upgrade_sql(monkeypatch, tidb=True, clustered=False, replicas=1)
    assert "AUTO_RANDOM" not in sql
    assert "ALTER TABLE orders MODIFY id BIGINT NOT NULL AUTO_INCREMENT" in sql
    assert "ALTER TABLE orders SET TIFLASH REPLICA 1" in sql


def test_mysql_and_mariadb_only_widen_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    sql = _upgrade_sql(monkeypatch, tidb=False, replicas=2)
    assert "ALTER TABLE orders MODIFY id BIGINT NOT NULL AUTO_INCREMENT" in sql
    assert "AUTO_RANDOM" not in sql
    assert "TIFLASH" not in sql


# --- large ids ------------------------------------------------------------------------------


async def test_an_order_id_beyond_32_bits_is_a_404_not_a_422_or_a_crash(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    # What AUTO_RANDOM(5, 54) can assign on TiDB: up to 2^53 - 1.
    for order_id in (2**31, 2**53 - 1, 2**63 - 1):
        response = await shop.get(f"/api/orders/{order_id}", headers=buyer.headers)
        assert response.status_code == 404, (order_id, response.text)
    assert (await shop.get(f"/api/orders/{2**63}", headers=buyer.headers)).status_code == 422
