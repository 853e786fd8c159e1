import httpx
import pytest

from keel.core.db import Database
from tests.apps.shop import builders
from tests.apps.shop.builders import Account


@pytest.fixture
async def admin(shop: httpx.AsyncClient, shop_database: Database) -> Account:
    return await builders.account(shop, shop_database, admin=True)


@pytest.fixture
async def buyer(shop: httpx.AsyncClient) -> Account:
    return await builders.account(shop)
