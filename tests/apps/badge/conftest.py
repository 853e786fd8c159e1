import shutil
from pathlib import Path

import httpx
import pytest

from keel.core.db import Database
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge
from tests.broker import Broker


@pytest.fixture
async def admin(badge: httpx.AsyncClient, badge_database: Database) -> Account:
    return await builders.account(badge, badge_database, "admin")


@pytest.fixture
async def operator(badge: httpx.AsyncClient, badge_database: Database) -> Account:
    return await builders.account(badge, badge_database, "user")


@pytest.fixture
async def guest(badge: httpx.AsyncClient, badge_database: Database) -> Account:
    return await builders.account(badge, badge_database, "guest")


@pytest.fixture
async def device(badge: httpx.AsyncClient, admin: Account) -> Badge:
    return await builders.badge(badge, admin)


@pytest.fixture
def private_broker(tmp_path: Path):
    """A Mosquitto of the test's own, from deploy/mosquitto.conf (tests/broker.py)."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(folder)
    broker.start()
    yield broker
    broker.stop()
