"""Ids a client sees are never given to another account, on SQLite too: an erased account's id
stays with its audit rows."""

import httpx

from tests.apps.coach import builders
from tests.apps.coach.builders import Member


async def _erase(client: httpx.AsyncClient, who: Member) -> None:
    token = (await client.post("/api/v1/me/deletion", headers=who.headers)).json()["confirmation_token"]
    erased = await client.request(
        "DELETE", "/api/v1/me", json={"confirmation_token": token}, headers=who.headers
    )
    assert erased.status_code == 204


async def _day_log_ids(client: httpx.AsyncClient, who: Member) -> list[int]:
    exported = await client.get("/api/v1/me/export", headers=who.headers)
    assert exported.status_code == 200
    return [log["id"] for log in exported.json()["day_logs"]]


async def test_an_erased_accounts_ids_are_not_given_again(coach: httpx.AsyncClient) -> None:
    first = await builders.member(coach)
    await builders.record(coach, first, "workout")
    [first_log] = await _day_log_ids(coach, first)
    # The newest user and day log: the ids SQLite would hand out again without AUTOINCREMENT.
    await _erase(coach, first)

    second = await builders.member(coach)
    await builders.record(coach, second, "workout")
    [second_log] = await _day_log_ids(coach, second)
    assert second.id > first.id
    assert second_log > first_log
    # The old account's token does not sign in to the new one.
    assert (await coach.get("/api/v1/me", headers=first.headers)).status_code == 401
