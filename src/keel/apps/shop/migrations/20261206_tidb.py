"""orders.id as BIGINT, AUTO_RANDOM on TiDB; TiFlash replicas for the bestsellers ranking

orders.id and the columns referencing it (order_items, payment_attempts) become BIGINT on PostgreSQL and the MySQL family (SQLite's
INTEGER key is 64-bit already), so the API takes the large ids TiDB assigns (issue 13 item 7).

On TiDB only: orders.id becomes `BIGINT AUTO_RANDOM(5, 54)`, so concurrent checkouts write to
32 shards of the key space instead of one hot region at its end. 54 bits keep every id below
2^53, exact in any JSON reader. TiDB converts an AUTO_INCREMENT BIGINT key in place, so a new
database (0001 made the key INT AUTO_INCREMENT a moment before) and an existing one take the
same steps; the key must be clustered (TiDB's default for an integer key since v5.0): one made
NONCLUSTERED cannot take AUTO_RANDOM, and keeps AUTO_INCREMENT with a warning in the log.
AUTO_RANDOM cannot be removed again, so the downgrade leaves it, and the BIGINT, on TiDB.

Then, with KEEL_SHOP_TIDB_TIFLASH_REPLICAS > 0, TiFlash replicas of the tables the
bestsellers ranking reads. The count is applied when this revision runs; to change it later,
run the statements of `tiflash_replicas` by hand (see the shop README).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 00:00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from keel.core.sql import connection_is_tidb
from keel.settings import get_settings

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

AUTO_RANDOM = "ALTER TABLE orders MODIFY COLUMN id BIGINT AUTO_RANDOM(5, 54)"
# What the bestsellers ranking reads (services/catalog.py).
TIFLASH_TABLES = ("orders", "order_items", "products")
# The columns that reference orders.id, each with its foreign key.
_REFERENCES = (
    ("order_items", "fk_order_items_order_id_orders"),
    ("payment_attempts", "fk_payment_attempts_order_id_orders"),
)


def tiflash_replicas(count: int) -> list[str]:
    return [f"ALTER TABLE {table} SET TIFLASH REPLICA {count}" for table in TIFLASH_TABLES]


def _clustered(bind: sa.Connection) -> bool:
    kind = bind.execute(
        sa.text(
            "SELECT TIDB_PK_TYPE FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name = 'orders'"
        )
    ).scalar_one()
    return kind == "CLUSTERED"


def _retype(type_: type[sa.Integer], then: Sequence[str] = ()) -> None:
    """The key and its references, with their foreign keys off meanwhile: MySQL and TiDB
    refuse to change a column a foreign key joins while the key is there."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    old = sa.BigInteger() if type_ is sa.Integer else sa.Integer()
    for table, foreign_key in _REFERENCES:
        op.drop_constraint(foreign_key, table, type_="foreignkey")
        op.alter_column(table, "order_id", type_=type_(), existing_type=old, existing_nullable=False)
    # MySQL's MODIFY restates the whole column, AUTO_INCREMENT included.
    keep = {} if postgresql else {"existing_autoincrement": True}
    op.alter_column("orders", "id", type_=type_(), existing_type=old, existing_nullable=False, **keep)
    if postgresql:  # SERIAL's sequence has a type of its own, which would stop at 2^31 - 1
        op.execute(f"ALTER SEQUENCE orders_id_seq AS {'BIGINT' if type_ is sa.BigInteger else 'INTEGER'}")
    for statement in then:
        op.execute(statement)
    for table, foreign_key in _REFERENCES:
        op.create_foreign_key(foreign_key, table, "orders", ["order_id"], ["id"], ondelete="CASCADE")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    if not connection_is_tidb(bind):
        _retype(sa.BigInteger)
        return
    if _clustered(bind):
        _retype(sa.BigInteger, then=[AUTO_RANDOM])
    else:
        log.warning(
            "orders has a NONCLUSTERED primary key, which cannot be AUTO_RANDOM; it stays AUTO_INCREMENT"
        )
        _retype(sa.BigInteger)
    if (replicas := get_settings().shop_tidb_tiflash_replicas) > 0:
        for statement in tiflash_replicas(replicas):
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    if connection_is_tidb(bind):
        for statement in tiflash_replicas(0):
            op.execute(statement)
        return
    _retype(sa.Integer)
