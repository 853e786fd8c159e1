"""time series kept as JSON text on PostgreSQL (json, not jsonb), compressed with lz4

A series is stored and returned whole, never queried inside: jsonb's binary form and the
default pglz compression made storing a batch of 100 sessions (3.7 MB) take about 110 ms of
PostgreSQL's time, json with lz4 about 17 ms. MySQL/MariaDB and SQLite keep JSON as text already.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has_lz4() -> bool:
    # lz4 is a build option of PostgreSQL (14 and later); without it the column keeps pglz.
    values = (
        op.get_bind()
        .exec_driver_sql("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        .scalar()
    )
    return bool(values) and "lz4" in values


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE workout_sessions ALTER COLUMN time_series_data TYPE json USING time_series_data::json"
    )
    if _has_lz4():
        op.execute("ALTER TABLE workout_sessions ALTER COLUMN time_series_data SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE workout_sessions ALTER COLUMN time_series_data SET COMPRESSION default")
    op.execute(
        "ALTER TABLE workout_sessions ALTER COLUMN time_series_data TYPE jsonb USING time_series_data::jsonb"
    )
