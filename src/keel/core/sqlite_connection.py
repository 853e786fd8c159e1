"""How every SQLite connection keel opens is set up, so the embedded default behaves like the
server databases where the apps rely on it (concurrent readers, foreign keys, waiting for the
writer, case folding)."""

from typing import Any


def configure(dbapi_connection: Any, _record: Any) -> None:
    """The engines' "connect" hook (core/db.py `Database`)."""
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed beside the one writer; foreign keys are off unless asked for.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite's own lower() folds ASCII only; PostgreSQL (in a UTF-8 locale) and MariaDB fold
    # every letter, so a case-insensitive search for "élodie" finds "Élodie" on each dialect.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
