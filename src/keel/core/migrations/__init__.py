"""Alembic, run per app: one shared environment (this folder) and each app's own versions
folder and version table, so apps that share one database never step on each other."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from keel.core.app import KeelApp

_HERE = Path(__file__).parent


def alembic_config(keel_app: KeelApp, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("version_locations", str(keel_app.migrations))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    config.set_main_option("path_separator", "os")
    config.attributes["metadata"] = keel_app.metadata
    config.attributes["url"] = url
    config.attributes["version_table"] = f"alembic_version_{keel_app.slug}"
    return config


def upgrade(keel_app: KeelApp, url: str, revision: str = "head") -> None:
    """Synchronous on purpose: alembic's env runs its own event loop (see env.py)."""
    command.upgrade(alembic_config(keel_app, url), revision)


def downgrade(keel_app: KeelApp, url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(keel_app, url), revision)


async def upgrade_async(keel_app: KeelApp, url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, keel_app, url, revision)


async def downgrade_async(keel_app: KeelApp, url: str, revision: str = "base") -> None:
    await asyncio.to_thread(downgrade, keel_app, url, revision)
