import httpx
import pytest

from keel.core.db import Database
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge


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
