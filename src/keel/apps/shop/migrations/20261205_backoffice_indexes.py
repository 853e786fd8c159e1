"""the back office's index on orders (created_at, id)

An admin's order list is every customer's orders newest first, a page at a time (issue 13
item 5): without this index each page sorts the whole table. One customer's orders keep
ix_orders_user_id_created_at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_orders_created_at", "orders", ["created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_created_at", table_name="orders")
