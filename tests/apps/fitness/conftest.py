import httpx
import pytest

from keel.core.db import Database
from tests.apps.fitness import builders
from tests.apps.fitness.builders import Athlete


@pytest.fixture
async def admin(fitness: httpx.AsyncClient, fitness_database: Database) -> Athlete:
    return await builders.athlete(fitness, fitness_database, admin=True)


@pytest.fixture
async def athlete(fitness: httpx.AsyncClient) -> Athlete:
    return await builders.athlete(fitness)
