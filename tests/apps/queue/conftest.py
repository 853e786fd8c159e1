import httpx
import pytest

from tests.apps.queue import builders
from tests.apps.queue.builders import Account


@pytest.fixture
async def owner(queue: httpx.AsyncClient) -> Account:
    return await builders.account(queue, name="Store Owner")


@pytest.fixture
async def customer(queue: httpx.AsyncClient) -> Account:
    return await builders.account(queue, name="Customer")


@pytest.fixture
async def store_id(queue: httpx.AsyncClient, owner: Account) -> str:
    return await builders.store(queue, owner, name="阿明理髮店", description="Haircuts and shaves")
