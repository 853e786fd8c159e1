"""Retention: every table that grows with use is pruned by age, once per deployment.

A `Prunable` names a table, the column that ages its rows and the setting with their age in
days: rows whose column is more than that many days in the past go. The core's own tables are
found by their mixin (`RULES`), so an app that includes one is pruned without asking; an app
adds its own growing tables (badge's heartbeats) as extra prunables:
`KeelApp(retention=prunables(Base, Prunable(Heartbeat, "received_at", ...)))`. The app's
"retention" sweep (core/sweeps.py) prunes them, run by one process per deployment every
`KEEL_RETENTION_SWEEP_SECONDS`.

Rows go in batches of at most `BATCH` per DELETE, each batch its own short transaction, so a
large backlog never holds a long lock or a huge transaction. The ids are selected first
because MariaDB refuses a LIMIT inside `IN (SELECT ...)`.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import DeclarativeBase

from keel.core.db import Database, utcnow
from keel.core.idempotency_models import IdempotencyKeyMixin
from keel.core.jobs import JobMixin
from keel.core.mail_models import OutboxMixin
from keel.core.realtime import EventMixin
from keel.core.security.models import (
    PasswordResetCodeMixin,
    RefreshTokenMixin,
    RevokedTokenMixin,
    SessionMixin,
)
from keel.core.sweeps import Sweep
from keel.settings import Settings

log = logging.getLogger("keel.retention")

BATCH = 1000


@dataclass(frozen=True, slots=True)
class Prunable:
    model: Any
    # The column that ages a row; it needs an index (the prune reads by it).
    column: str
    # The Settings field holding the age in days past which rows go.
    setting: str

    @property
    def table(self) -> Any:
        return self.model.__table__


# The core's growing tables, by mixin. Refresh tokens stay until they expire even when revoked:
# a revoked one presented again is how reuse is detected. Jobs age from when they finished, so
# queued and running ones (finished_at null) never go; mail from when it was written, sent or
# not, since nothing retries an undelivered message.
RULES: tuple[tuple[type, str, str], ...] = (
    (RefreshTokenMixin, "expires_at", "retention_tokens_days"),
    (RevokedTokenMixin, "expires_at", "retention_tokens_days"),
    (SessionMixin, "expires_at", "retention_tokens_days"),
    (PasswordResetCodeMixin, "expires_at", "retention_tokens_days"),
    (IdempotencyKeyMixin, "expires_at", "retention_idempotency_keys_days"),
    (OutboxMixin, "created_at", "retention_mail_days"),
    (EventMixin, "created_at", "retention_events_days"),
    (JobMixin, "finished_at", "retention_jobs_days"),
)


def prunables(base: type[DeclarativeBase], *extra: Prunable) -> tuple[Prunable, ...]:
    """Every table of `base` built from a core mixin in RULES, then the app's own `extra`."""
    found = [
        Prunable(mapper.class_, column, setting)
        for mapper in sorted(base.registry.mappers, key=lambda mapper: mapper.class_.__name__)
        for mixin, column, setting in RULES
        if issubclass(mapper.class_, mixin)
    ]
    return (*found, *extra)


async def prune(database: Database, prunable: Prunable, settings: Settings) -> int:
    """Delete the rows older than the setting's age, a batch per transaction; how many went."""
    table = prunable.table
    key = list(table.primary_key.columns)
    # A composite key (events: channel and number) is matched as a row value.
    matched = key[0] if len(key) == 1 else tuple_(*key)
    cutoff = utcnow() - timedelta(days=getattr(settings, prunable.setting))
    old = select(*key).where(table.c[prunable.column] < cutoff).limit(BATCH)
    removed = 0
    while True:
        async with database.sessionmaker() as session, session.begin():
            rows = (await session.execute(old)).all()
            ids = [row[0] for row in rows] if len(key) == 1 else [tuple(row) for row in rows]
            if ids:
                await session.execute(delete(table).where(matched.in_(ids)))
        removed += len(ids)
        if len(ids) < BATCH:
            return removed


def retention_sweep(tables: Sequence[Prunable]) -> Sweep:
    """The sweep that prunes `tables` (an app's `KeelApp.retention`)."""

    async def run(database: Database, settings: Settings) -> None:
        for prunable in tables:
            removed = await prune(database, prunable, settings)
            if removed:
                log.info("pruned", extra={"table": prunable.table.name, "rows": removed})

    return Sweep("retention", run, lambda settings: settings.retention_sweep_seconds)
