"""Many customers booking at one store at once: the per-store daily counter's row lock gives
each a distinct number, with none skipped."""

import asyncio

import httpx

from tests.apps.queue import builders
from tests.apps.queue.builders import Account


async def test_50_concurrent_bookings_get_50_distinct_consecutive_numbers(
    queue: httpx.AsyncClient, store_id: str
) -> None:
    customers = [await builders.account(queue) for _ in range(50)]
    responses = await asyncio.gather(*(builders.book(queue, c, store_id) for c in customers))
    assert [r.status_code for r in responses] == [201] * 50, [
        r.text for r in responses if r.status_code != 201
    ]
    numbers = sorted(r.json()["queue_number"] for r in responses)
    assert numbers == list(range(1, 51))
    # Each customer's position matches their number: nobody was counted ahead who came later.
    assert all(r.json()["your_position"] == r.json()["queue_number"] for r in responses)
    assert (await queue.get(f"/stores/{store_id}")).json()["current_queue_count"] == 50


async def test_one_customer_booking_twice_at_once_gets_one_booking(
    queue: httpx.AsyncClient, customer: Account, store_id: str
) -> None:
    responses = await asyncio.gather(*(builders.book(queue, customer, store_id) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
