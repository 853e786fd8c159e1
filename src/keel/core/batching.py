"""Group commit within a process: requests that arrive together are served by one run.

Where every request waits for the same row lock and its own commit (a flash sale's one product
row), the database serves one request per lock hold, a few hundred a second whatever the
concurrency. A `Combiner` hands what arrives while a run is in flight to the next run, so one
lock hold and one commit serve them all. There is no timer: the first request of a quiet moment
runs at once, alone; under load, a batch is what came in during the run before it. So no
request waits longer for its batch than one run takes.

`run` decides each item on its own: it answers a result or an exception per item, in order,
and an item's exception is raised to that item's caller only. An exception out of `run`
itself (the database is down) reaches every caller of that batch.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from prometheus_client import Histogram

# How much combining happens: a run per item means the load never overlapped.
BATCH_SIZE = Histogram(
    "keel_batch_size",
    "Items served by one run of a Combiner",
    ["batch"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)

T = TypeVar("T")
R = TypeVar("R")

Run = Callable[[Sequence[T]], Awaitable[Sequence[R | Exception]]]


class Combiner(Generic[T, R]):
    """One run in flight at a time, of at most `max_size` items; what arrives while it runs
    waits for the next. (Two runs at once made smaller batches and fewer orders a second on
    bench/shop.py's flash sale: each run has a fixed cost, and they wait for the same row.)"""

    def __init__(self, name: str, run: Run[T, R], *, max_size: int):
        self._size = BATCH_SIZE.labels(name)
        self._run = run
        self._max_size = max_size
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """The item's result, once the batch it joined has run. A caller that goes away (its
        client hung up) leaves the item in its batch, which may already have written it."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_size], self._waiting[self._max_size :]
                self._size.observe(len(batch))
                try:
                    results: Sequence[R | Exception] = await self._run([item for item, _ in batch])
                except Exception as error:
                    results = [error] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its caller was cancelled
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        finally:
            # Reached with items left only when this task was cancelled (the process stopping).
            self._task = None
            for _, future in (*batch, *self._waiting):
                future.cancel()
            self._waiting = []
