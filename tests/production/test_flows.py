"""One critical flow per app through the real `keel serve --workers 2` (tests/production/conftest.py),
each proven to involve both workers: the bugs that only show with several processes (a
message stored by each of them, an event that stays in the process that caused it, a job only
its own process runs) fail here."""

import asyncio
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from websockets.asyncio.client import connect

from tests.apps.badge import builders as badge_builders
from tests.apps.coach import builders as coach_builders
from tests.apps.fitness import builders as fitness_builders
from tests.apps.queue import builders as queue_builders
from tests.apps.shop import builders as shop_builders
from tests.production.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Production


@dataclass
class Bearer:
    """The seeded admin's access token, where the apps' builders want an account."""

    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def _admin(client: httpx.AsyncClient, path: str) -> Bearer:
    """The admin `keel seed` made in production (the only account it makes there)."""
    response = await client.post(path, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return Bearer(response.json()["access_token"])


async def _eventually(check, attempts: int = 300):
    for _ in range(attempts):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    return await check()


async def test_shop_checkout_takes_stock_once_and_lists_the_order(production: Production) -> None:
    async with production.client("shop") as shop:
        admin = await _admin(shop, "/api/auth/login")
        product = await shop_builders.product(shop, admin, stock=5)
        buyer = await shop_builders.account(shop)
        ordered = await shop_builders.order(shop, buyer, (product["id"], 2))
        assert ordered.status_code == 201, ordered.text
        # Taken once, and every worker reads the same stock and the same order list.
        for answer in await production.on_both(lambda: shop.get(f"/api/products/{product['id']}")):
            assert answer.json()["stock"] == 3
        for answer in await production.on_both(lambda: shop.get("/api/orders", headers=buyer.headers)):
            assert [order["id"] for order in answer.json()] == [ordered.json()["id"]]


async def test_a_shop_flash_sale_on_both_workers_sells_the_stock_exactly_once(production: Production) -> None:
    """80 orders at once, each on a new connection (so both workers take them), for 25 units:
    each process combines what it receives, and the two processes' batches share one row."""
    async with production.client("shop") as shop:
        admin = await _admin(shop, "/api/auth/login")
        product = await shop_builders.product(shop, admin, stock=25)
        buyers = [await shop_builders.account(shop) for _ in range(20)]
        before = production.answered()
        answers = await asyncio.gather(
            *(shop_builders.order(shop, buyers[i % 20], (product["id"], 1)) for i in range(80))
        )
        assert Counter(answer.status_code for answer in answers) == {201: 25, 400: 55}
        workers = production.answered() - before
        assert len(workers) == 2, f"one worker took every order: {workers}"
        assert (await shop.get(f"/api/products/{product['id']}")).json()["stock"] == 0

        # A retry lands on whichever worker: the first order's answer, the stock taken once.
        restock = await shop.put(f"/api/products/{product['id']}", json={"stock": 5}, headers=admin.headers)
        assert restock.status_code == 200
        buyer = await shop_builders.account(shop)
        body = {
            "items": [{"product_id": product["id"], "quantity": 2}],
            "shipping_address": shop_builders.ADDRESS,
            "payment_method": "card",
        }
        headers = {**buyer.headers, "Idempotency-Key": str(uuid.uuid4())}
        retries = await production.on_both(lambda: shop.post("/api/orders", json=body, headers=headers))
        assert {answer.status_code for answer in retries} == {201}
        assert len({answer.json()["id"] for answer in retries}) == 1
        assert (await shop.get(f"/api/products/{product['id']}")).json()["stock"] == 3


def _workout(day: int) -> dict:
    start = datetime(2026, 11, 20, 7, 0, tzinfo=UTC) + timedelta(days=day)
    return {
        "client_session_id": str(uuid.uuid4()),
        "source_type": "free",
        "device_type": "bike",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(minutes=30)).isoformat(),
        "duration_seconds": 1800,
        "total_calories": 250.5,
        "total_distance_meters": 9000.0,
        "xp_earned": 60,
        "metrics_summary": {},
        "time_series_data": [],
    }


async def test_a_fitness_batch_replayed_on_either_worker_gives_duplicates(production: Production) -> None:
    batch = {"sessions": [_workout(day) for day in range(3)]}
    async with production.client("fitness") as fitness:
        athlete = await fitness_builders.athlete(fitness)
        first = await fitness.post("/api/v1/sessions/batch_upload", json=batch, headers=athlete.headers)
        assert first.status_code == 201, first.text
        ids = [result["id"] for result in first.json()["results"]]
        replays = await production.on_both(
            lambda: fitness.post("/api/v1/sessions/batch_upload", json=batch, headers=athlete.headers)
        )
        for replay in replays:
            assert replay.status_code == 200
            assert (replay.json()["created"], replay.json()["duplicates"]) == (0, 3)
            assert [result["id"] for result in replay.json()["results"]] == ids
        stored = await fitness.get("/api/v1/sessions", headers=athlete.headers)
        assert stored.json()["total"] == 3
        me = await fitness.get("/api/v1/users/me", headers=athlete.headers)
        assert me.json()["stats"]["total_xp"] == 3 * 60  # counted once


async def test_a_queue_event_caused_on_either_worker_reaches_one_socket(production: Production) -> None:
    async with production.client("queue") as queue:
        owner = await queue_builders.account(queue, name="Owner")
        store_id = await queue_builders.store(queue, owner)
        customer = await queue_builders.account(queue)
        booking = await queue_builders.booking(queue, customer, store_id)
        socket_url = production.base_url.replace("http", "ws", 1) + f"/queue/ws?token={owner.token}"
        async with connect(socket_url) as owner_socket:
            # The socket lives on one worker; messages sent through both reach it, so at least
            # one crossed from the other worker (through Redis).
            senders: set[int] = set()
            for n in range(40):
                sent, pid = await production.served_by(
                    queue.post(
                        f"/chats/{booking['id']}/messages",
                        json={"content": f"hello {n}"},
                        headers=customer.headers,
                    )
                )
                assert sent.status_code == 201, sent.text
                while True:
                    event = json.loads(await asyncio.wait_for(owner_socket.recv(), 10))
                    if event["event"] == "new_message":
                        break
                assert event["data"]["message"]["id"] == sent.json()["id"]
                senders.add(pid)
                if len(senders) == 2:
                    break
            assert len(senders) == 2, "every message went through one worker"


async def test_a_coach_ai_task_is_finished_by_the_job_worker_and_read_on_both(production: Production) -> None:
    async with production.client("coach") as coach:
        member = await coach_builders.member(coach)
        for dimension in ("workout", "sleep", "meal", "work", "reading"):
            await coach_builders.record(coach, member, dimension)
        accepted = await coach.post(
            "/api/v1/ai/review", json={"date": coach_builders.DAY}, headers=member.headers
        )
        assert accepted.status_code == 202, accepted.text
        task = f"/api/v1/ai/tasks/{accepted.json()['id']}"

        async def finished() -> bool:
            status = (await coach.get(task, headers=member.headers)).json()["status"]
            assert status in ("queued", "running", "succeeded"), status
            return status == "succeeded"

        # Neither serve worker runs jobs here (KEEL_WORKER_IN_SERVE=false): `keel worker` does.
        assert await _eventually(finished), "the task was never finished"
        for answer in await production.on_both(lambda: coach.get(task, headers=member.headers)):
            assert (answer.json()["status"], answer.json()["provider"]) == ("succeeded", "rules")
        day = await coach.get(f"/api/v1/day-logs/{coach_builders.DAY}", headers=member.headers)
        assert day.json()["ai_report"]["task_id"] == accepted.json()["id"]


def _beat(at: datetime) -> bytes:
    return orjson.dumps(badge_builders.heartbeat(timestamp=at.isoformat()))


async def test_badge_mqtt_heartbeats_are_stored_exactly_once_by_the_two_workers(
    production: Production,
) -> None:
    async with production.client("badge") as badge:
        admin = await _admin(badge, "/api/v1/auth/login")
        device = await badge_builders.badge(badge, admin)
        beats = f"/api/v1/devices/{device.device_id}/heartbeats"

        async def stored() -> Counter[datetime]:
            rows = (await badge.get(beats, params={"limit": 1000}, headers=admin.headers)).json()
            return Counter(datetime.fromisoformat(row["occurred_at"]) for row in rows)

        def stored_by() -> Counter[int]:
            return production.counted("keel_badge_mqtt_messages", outcome="stored")

        async def both_ingesting() -> bool:
            return len(stored_by()) == 2

        topic = f"luna/device/{device.device_id}/heartbeat"
        warm_up = datetime(2026, 1, 1, tzinfo=UTC)
        start = datetime(2026, 2, 1, tzinfo=UTC)
        # As the badge, with the credentials its registration answered (the broker is dynsec's).
        async with device.mqtt(production.mqtt_port, identifier=f"publisher-{uuid.uuid4().hex}") as mqtt:
            # Both workers' ingest is subscribed once each has stored something (with a shared
            # subscription the broker takes turns between them; without one, each gets all).
            for n in range(40):
                await mqtt.publish(topic, _beat(warm_up + timedelta(seconds=n)), qos=1)
                if await _eventually(both_ingesting, attempts=20):
                    break
            assert await both_ingesting(), f"only {dict(stored_by())} stored the 40 warm-up beats"
            # Waves, each awaited: a second copy stored by the other worker lands while a later
            # wave is awaited, so the count after the last wave sees it.
            expected: list[datetime] = []

            async def arrived() -> bool:
                counts = await stored()
                return all(counts[at] for at in expected)

            for wave in range(4):
                sent = [start + timedelta(minutes=wave, seconds=n) for n in range(25)]
                for at in sent:
                    await mqtt.publish(topic, _beat(at), qos=1)
                expected.extend(sent)
                assert await _eventually(arrived), f"wave {wave} was not stored"
        counts = await stored()
        twice = {at: count for at, count in counts.items() if at in expected and count != 1}
        assert not twice, f"{len(twice)} of {len(expected)} heartbeats stored more than once: {stored_by()}"
