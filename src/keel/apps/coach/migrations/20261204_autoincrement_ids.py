"""password_reset_codes and mail_outbox; ids a client sees never given again on SQLite

password_reset_codes: the mailed reset codes (core/security/password_reset.py); mail_outbox:
the mail that carries them (core/mail.py). On SQLite, users and day_logs are rebuilt with
AUTOINCREMENT: without it SQLite gives the highest rowid again once its row is deleted, so an
erased account's id named the next account, with the erased one's audit rows. The users
counter starts past every id the audit log names, so accounts erased before this migration
are not reissued either. PostgreSQL and MariaDB never reuse ids: nothing changes there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keel.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose integer ids leave the server: a user's in every answer about the account, a
# day log's in the export.
REBUILT = ("users", "day_logs")


def _rebuild(autoincrement: bool) -> None:
    """SQLite cannot alter a table's rowid rule: each table is copied into a new one (the
    migration's connection has foreign keys off, so the children's rows stay)."""
    for table in REBUILT:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    op.create_table(
        "password_reset_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_reset_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_codes")),
    )
    op.create_index(
        op.f("ix_password_reset_codes_expires_at"), "password_reset_codes", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_password_reset_codes_user_id"), "password_reset_codes", ["user_id"], unique=False
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", keel.core.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", keel.core.db.UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index(op.f("ix_mail_outbox_created_at"), "mail_outbox", ["created_at"], unique=False)
    op.create_index(op.f("ix_mail_outbox_recipient"), "mail_outbox", ["recipient"], unique=False)
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(autoincrement=True)
    # The copy set the counter to the highest id left; an erased account's id can be higher.
    erased = "(SELECT MAX(user_id) FROM audit_log)"
    op.execute(f"UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE({erased}, 0)) WHERE name = 'users'")
    op.execute(
        f"INSERT INTO sqlite_sequence (name, seq) SELECT 'users', {erased} "
        f"WHERE {erased} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)
    # A table's indexes go with it (MariaDB refuses to drop the one its foreign key needs).
    op.drop_table("mail_outbox")
    op.drop_table("password_reset_codes")
