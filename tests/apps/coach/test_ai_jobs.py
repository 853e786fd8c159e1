"""Issue 16: AI tasks as jobs. One task per user, kind and day (a repeat answers it), a daily
quota, cancel, the task list, Idempotency-Key and Location on submits, and the events stream
by `?access_token=` resumed from Last-Event-ID."""

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import DAY, Member


@pytest.fixture
async def tight(coach_database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The coach with a daily quota of 2 AI tasks."""
    server = build_server(
        settings.model_copy(update={"coach_ai_daily_quota": 2}),
        only="coach",
        databases={"coach": coach_database},
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://coach.test"
    ) as client:
        yield client


async def _review(coach: httpx.AsyncClient, who: Member, day: str = DAY, **headers: str) -> httpx.Response:
    return await coach.post("/api/v1/ai/review", json={"date": day}, headers={**who.headers, **headers})


async def _task(coach: httpx.AsyncClient, who: Member, task_id: str) -> dict:
    response = await coach.get(f"/api/v1/ai/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_second_submit_answers_the_days_task_with_its_location(coach, member: Member) -> None:
    first = await _review(coach, member)
    again = await _review(coach, member)
    other_day = await _review(coach, member, "2026-11-21")
    assert first.status_code == again.status_code == other_day.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert other_day.json()["id"] != first.json()["id"]
    for response in (first, again, other_day):
        assert response.headers["Location"] == f"/api/v1/ai/tasks/{response.json()['id']}"
        assert (await coach.get(response.headers["Location"], headers=member.headers)).status_code == 200
    plan = await coach.post("/api/v1/ai/tomorrow-plan", json={"date": DAY}, headers=member.headers)
    assert plan.json()["id"] != first.json()["id"]  # another kind of task for the same day


async def test_the_task_list_filters_and_pages(coach, member: Member, run_jobs) -> None:
    reviews = [(await _review(coach, member, f"2026-11-{day}")).json()["id"] for day in (18, 19, 20)]
    plan = (await coach.post("/api/v1/ai/tomorrow-plan", json={"date": DAY}, headers=member.headers)).json()
    other = await builders.member(coach)
    await _review(coach, other)
    listed = (await coach.get("/api/v1/ai/tasks", headers=member.headers)).json()
    assert listed["total"] == 4
    assert {task["id"] for task in listed["items"]} == {*reviews, plan["id"]}
    only_reviews = await coach.get(
        "/api/v1/ai/tasks", params={"type": "review", "limit": 2, "page": 2}, headers=member.headers
    )
    body = only_reviews.json()
    assert (body["total"], body["page"], body["limit"], body["total_pages"], len(body["items"])) == (
        3,
        2,
        2,
        2,
        1,
    )
    await coach.post(f"/api/v1/ai/tasks/{reviews[0]}/cancel", headers=member.headers)
    canceled = await coach.get("/api/v1/ai/tasks", params={"status": "canceled"}, headers=member.headers)
    assert [task["id"] for task in canceled.json()["items"]] == [reviews[0]]
    bad = await coach.get("/api/v1/ai/tasks", params={"status": "lost"}, headers=member.headers)
    assert bad.status_code == 422
    assert (await coach.get("/api/v1/ai/tasks")).status_code == 401


async def test_cancel_a_queued_task_then_run_it_again(coach, member: Member, run_jobs) -> None:
    task_id = (await _review(coach, member)).json()["id"]
    other = await builders.member(coach)
    assert (await coach.post(f"/api/v1/ai/tasks/{task_id}/cancel", headers=other.headers)).status_code == 404
    canceled = await coach.post(f"/api/v1/ai/tasks/{task_id}/cancel", headers=member.headers)
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    await run_jobs()  # its job finds it canceled and leaves it
    assert (await _task(coach, member, task_id))["status"] == "canceled"
    twice = await coach.post(f"/api/v1/ai/tasks/{task_id}/cancel", headers=member.headers)
    assert twice.status_code == 409
    assert "canceled" in twice.json()["detail"]

    again = await _review(coach, member)
    assert (again.json()["id"], again.json()["status"]) == (task_id, "queued")
    await run_jobs()
    assert (await _task(coach, member, task_id))["status"] == "succeeded"
    finished = await coach.post(f"/api/v1/ai/tasks/{task_id}/cancel", headers=member.headers)
    assert finished.status_code == 409
    unknown = await coach.post(f"/api/v1/ai/tasks/{uuid.uuid4()}/cancel", headers=member.headers)
    assert unknown.status_code == 404


async def test_the_daily_quota_is_429_with_retry_after_once_spent(tight: httpx.AsyncClient) -> None:
    member = await builders.member(tight)
    assert (await _review(tight, member, "2026-11-18")).status_code == 202
    assert (await _review(tight, member, "2026-11-19")).status_code == 202
    spent = await _review(tight, member, "2026-11-20")
    assert spent.status_code == 429
    assert "Daily AI quota of 2 tasks" in spent.json()["detail"]
    assert 1 <= int(spent.headers["Retry-After"]) <= 86400
    # A repeat answered by its stored task costs nothing; the refused one left no task.
    assert (await _review(tight, member, "2026-11-19")).status_code == 202
    listed = (await tight.get("/api/v1/ai/tasks", headers=member.headers)).json()
    assert listed["total"] == 2
    # Another user has a quota of their own.
    assert (await _review(tight, await builders.member(tight), "2026-11-20")).status_code == 202
    # Summaries asked for by a stats read spend it too: answered, but with none started.
    await builders.record(tight, member, "workout", day=dt.date.today().isoformat())
    stats = await tight.get("/api/v1/stats/weekly", params={"summary": "true"}, headers=member.headers)
    assert stats.status_code == 429


async def test_an_idempotency_key_replays_the_first_answer(coach, member: Member, run_jobs) -> None:
    key = {"Idempotency-Key": f"review-{uuid.uuid4()}"}
    first = await _review(coach, member, **key)
    await run_jobs()
    replay = await _review(coach, member, **key)
    assert replay.status_code == 202
    assert replay.json() == first.json()  # the answer as it was: queued
    assert replay.headers["Location"] == first.headers["Location"]
    other_body = await _review(coach, member, "2026-11-21", **key)
    assert other_body.status_code == 422


def _events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":"))
        if fields:
            events.append(fields)
    return events


async def test_events_by_access_token_resume_from_last_event_id(coach, member: Member, run_jobs) -> None:
    task_id = (await _review(coach, member)).json()["id"]
    path = f"/api/v1/ai/tasks/{task_id}/events"

    async def later() -> None:
        await asyncio.sleep(0.7)
        await run_jobs()

    worker = asyncio.create_task(later())
    streamed = await coach.get(path, params={"access_token": member.access_token}, timeout=10)
    await worker
    assert streamed.status_code == 200
    events = _events(streamed.text)
    assert events[0]["event"] == "queued"
    assert events[-1]["event"] == "succeeded"
    ids = [int(event["id"]) for event in events]
    assert ids == sorted(set(ids))  # every event has an id, each later one higher

    # Reconnecting after the first event: only what changed since (the task now, succeeded).
    resumed = await coach.get(
        path, params={"access_token": member.access_token}, headers={"Last-Event-ID": str(ids[0])}
    )
    assert [(e["id"], e["event"]) for e in _events(resumed.text)] == [(str(ids[-1]), "succeeded")]
    # After the last one there is nothing more: the stream ends at once, empty.
    done = await coach.get(path, headers={**member.headers, "Last-Event-ID": str(ids[-1])})
    assert (done.status_code, _events(done.text)) == (200, [])

    assert (await coach.get(path, params={"access_token": "not-a-token"})).status_code == 401
    assert (await coach.get(path)).status_code == 401
    other = await builders.member(coach)
    assert (await coach.get(path, params={"access_token": other.access_token})).status_code == 404
