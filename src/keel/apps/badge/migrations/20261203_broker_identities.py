"""badge MQTT identities in the broker

Issue 17 item 1: devices.mqtt_password_hash, the SHA-256 of the badge's MQTT password while it
has a broker identity. Badges registered before have none (null): an admin gives them one with
`POST /devices/{id}/mqtt-credentials` before the broker stops letting them in anonymously.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mqtt_password_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("mqtt_password_hash")
