from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from keel.apps.coach.tasks import queue
from keel.core.db import Database
from keel.core.jobs import Worker
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import Member
from tests.apps.coach.fake_llm import FakeLLM, fake_llm


@pytest.fixture
async def member(coach: httpx.AsyncClient) -> Member:
    return await builders.member(coach)


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with fake_llm() as fake:
        yield fake


@pytest.fixture
def run_jobs(coach_database: Database, settings: Settings) -> Callable[..., Awaitable[None]]:
    """Run every due job now, as a worker would, with these settings (or overrides)."""

    async def run(**overrides: object) -> None:
        await Worker(queue, coach_database, settings.model_copy(update=overrides)).run_until_idle()

    return run
