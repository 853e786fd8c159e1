"""time series stored as JSON text the database does not parse (lz4-compressed on PostgreSQL)

A series is stored and returned whole, never queried inside. As jsonb with PostgreSQL's default
pglz compression, storing a batch of 100 sessions (3.7 MB) took about 110 ms of the database's
time; as text with lz4, about 10 ms.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

import keel.core.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _has_lz4() -> bool:
    # lz4 is a build option of PostgreSQL (14 and later); without it the column keeps pglz.
    values = (
        op.get_bind()
        .exec_driver_sql("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        .scalar()
    )
    return bool(values) and "lz4" in values


def upgrade() -> None:
    # Batch mode: SQLite cannot change a column's type in place, so its table is copied.
    with op.batch_alter_table("workout_sessions") as batch:
        batch.alter_column(
            "time_series_data",
            type_=keel.core.db.JSONDocument(),
            existing_type=_OLD_TYPE,
            existing_nullable=True,
            postgresql_using="time_series_data::text",
        )
    if op.get_bind().dialect.name == "postgresql" and _has_lz4():
        op.execute("ALTER TABLE workout_sessions ALTER COLUMN time_series_data SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE workout_sessions ALTER COLUMN time_series_data SET COMPRESSION default")
    with op.batch_alter_table("workout_sessions") as batch:
        batch.alter_column(
            "time_series_data",
            type_=_OLD_TYPE,
            existing_type=mysql.LONGTEXT() if op.get_bind().dialect.name == "mysql" else sa.Text(),
            existing_nullable=True,
            postgresql_using="time_series_data::jsonb",
        )
