import httpx
import pytest

from tests.apps.coach import builders
from tests.apps.coach.builders import Member


@pytest.fixture
async def member(coach: httpx.AsyncClient) -> Member:
    return await builders.member(coach)
