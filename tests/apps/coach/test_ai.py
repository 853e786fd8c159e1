import asyncio
import datetime as dt
import json
import uuid

import httpx
import pytest
from sqlalchemy import select

from keel.apps.coach.models import Job
from keel.apps.coach.services import providers
from keel.apps.coach.tasks import queue
from tests.apps.coach import builders
from tests.apps.coach.builders import DAY, Member
from tests.apps.coach.fake_llm import GOOD, FakeLLM


async def _day(coach: httpx.AsyncClient, who: Member) -> None:
    for dimension in ("workout", "sleep", "meal", "work", "reading"):
        await builders.record(coach, who, dimension, note="private note about my boss")


async def _task(coach, who: Member, task_id: str) -> dict:
    response = await coach.get(f"/api/v1/ai/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200
    return response.json()


async def test_a_review_is_accepted_at_once_and_written_by_the_rules(coach, member: Member, run_jobs) -> None:
    await _day(coach, member)
    accepted = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "queued"
    task_id = accepted.json()["id"]
    assert (await _task(coach, member, task_id))["status"] == "queued"

    await run_jobs()
    task = await _task(coach, member, task_id)
    assert task["status"] == "succeeded", task
    assert task["provider"] == "rules"
    assert task["fallback"] is task["result"]["fallback"] is True
    assert task["result"]["summary"].endswith("score 87/100, 4 of 5 targets met.")
    assert task["latency_ms"] is not None
    day = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()
    assert day["status"] == "reviewed"
    assert day["ai_report"]["summary"] == task["result"]["summary"]
    assert day["ai_report"]["task_id"] == task_id


async def test_a_plan_for_tomorrow_and_a_reading_summary(coach, member: Member, run_jobs) -> None:
    today = dt.date.today()
    await builders.record(coach, member, "reading", day=today.isoformat(), minutes=10)
    plan = await coach.post("/api/v1/ai/tomorrow-plan", json={}, headers=member.headers)
    reading = await coach.post("/api/v1/ai/reading-summary", json={}, headers=member.headers)
    assert plan.status_code == reading.status_code == 202
    assert plan.json()["input"]["date"] in {(today + dt.timedelta(days=n)).isoformat() for n in (0, 1, 2)}
    await run_jobs()
    planned = await _task(coach, member, plan.json()["id"])
    assert planned["status"] == "succeeded"
    assert any(s.startswith("Sleep: 0.0 h of 8.0 h") for s in planned["result"]["suggestions"])
    day = (await coach.get(f"/api/v1/day-logs/{planned['input']['date']}", headers=member.headers)).json()
    assert day["ai_plan"]["summary"] == planned["result"]["summary"]
    summary = await _task(coach, member, reading.json()["id"])
    assert summary["result"]["highlights"] == ["Deep Work: 20 pages, 10 min"]


async def test_the_llm_gets_only_what_the_prompt_needs_and_its_answer_is_kept(
    coach, member: Member, run_jobs, llm: FakeLLM
) -> None:
    await _day(coach, member)
    accepted = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    await run_jobs(coach_llm_base_url=llm.url, coach_llm_api_key="sk-test", coach_llm_model="fake-model")
    task = await _task(coach, member, accepted.json()["id"])
    assert task["status"] == "succeeded"
    assert task["provider"] == "llm:fake-model"
    assert task["fallback"] is task["result"]["fallback"] is False
    assert (task["tokens_in"], task["tokens_out"]) == (120, 40)
    assert {k: task["result"][k] for k in GOOD} == GOOD
    [sent] = llm.requests
    assert sent["model"] == "fake-model"
    assert llm.headers[0]["Authorization"] == "Bearer sk-test"
    prompt = sent["messages"][1]["content"]
    assert member.email not in prompt
    assert "private note" not in prompt
    assert str(member.id) not in json.loads(prompt).values()
    assert json.loads(prompt)["measures"]["workout"] == 30


@pytest.mark.parametrize("mode", ["fail", "malformed", "slow"])
async def test_a_failing_llm_is_retried_then_the_rules_answer(
    coach, member: Member, run_jobs, llm: FakeLLM, mode: str
) -> None:
    llm.mode, llm.delay = mode, 1.0
    accepted = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    await run_jobs(coach_llm_base_url=llm.url, coach_llm_attempts=2, coach_llm_timeout_seconds=0.3)
    task = await _task(coach, member, accepted.json()["id"])
    assert task["status"] == "succeeded"
    assert task["provider"] == "rules:fallback"
    assert task["fallback"] is True
    assert "gave up after 2 attempts" in task["result"]["fallback_reason"]
    assert len(llm.requests) == 2


async def test_one_failure_then_a_good_answer_is_the_llms(
    coach, member: Member, run_jobs, llm: FakeLLM
) -> None:
    llm.mode = "fail_then_good"
    accepted = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    await run_jobs(coach_llm_base_url=llm.url, coach_llm_attempts=3)
    assert (await _task(coach, member, accepted.json()["id"]))["provider"] == "llm:fake-model"
    assert len(llm.requests) == 2


async def test_a_failed_task_never_erases_the_last_good_report(
    coach, member: Member, run_jobs, monkeypatch, coach_database
) -> None:
    first = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    await run_jobs()
    good = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()["ai_report"]
    assert good["task_id"] == first.json()["id"]

    async def broken(*_args, **_kwargs):
        raise RuntimeError("writer exploded")

    monkeypatch.setattr(providers, "write", broken)
    monkeypatch.setattr(queue, "max_attempts", 2)
    # The day's task again: the rules wrote it (a fallback), so it runs again in place.
    second = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    assert second.json()["id"] == first.json()["id"]
    await run_jobs()
    retrying = await _task(coach, member, second.json()["id"])
    assert (retrying["status"], retrying["error"]) == ("queued", "RuntimeError: writer exploded")
    async with coach_database.sessionmaker() as session:  # the retry's backoff, run out now
        job = (await session.execute(select(Job).where(Job.status == "queued"))).scalar_one()
        job.run_after = job.run_after - dt.timedelta(hours=1)
        await session.commit()
    await run_jobs()
    failed = await _task(coach, member, second.json()["id"])
    assert failed["status"] == "failed"
    assert failed["result"] == good  # the last result stays the task's too
    assert (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()["ai_report"] == good


async def test_task_events_stream_status_changes(coach, member: Member, run_jobs) -> None:
    accepted = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    task_id = accepted.json()["id"]

    async def later() -> None:
        await asyncio.sleep(0.7)
        await run_jobs()

    worker = asyncio.create_task(later())
    response = await coach.get(f"/api/v1/ai/tasks/{task_id}/events", headers=member.headers, timeout=10)
    await worker
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if block.startswith("id:")]
    names = [block.split("\n")[1].removeprefix("event: ") for block in events]
    assert names[0] == "queued"
    assert names[-1] == "succeeded"
    assert json.loads(events[-1].split("\n")[2].removeprefix("data: "))["result"]["summary"]


async def test_tasks_are_private_and_inputs_validated(coach, member: Member) -> None:
    accepted = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    other = await builders.member(coach)
    for path in (f"/api/v1/ai/tasks/{accepted.json()['id']}", f"/api/v1/ai/tasks/{uuid.uuid4()}"):
        assert (await coach.get(path, headers=other.headers)).status_code == 404
        assert (await coach.get(f"{path}/events", headers=other.headers)).status_code == 404
    assert (await coach.post("/api/v1/ai/review", json={}, headers=member.headers)).status_code == 422
    assert (
        await coach.post("/api/v1/ai/review", json={"date": "2026-02-31"}, headers=member.headers)
    ).status_code == 422
    backwards = {"from": "2026-11-20", "to": "2026-11-01"}
    assert (
        await coach.post("/api/v1/ai/reading-summary", json=backwards, headers=member.headers)
    ).status_code == 422
    # The default week before the calendar's first days is cut at its start, not a 500.
    earliest = await coach.post(
        "/api/v1/ai/reading-summary", json={"to": "0001-01-01"}, headers=member.headers
    )
    assert earliest.status_code == 202
    task = await coach.get(f"/api/v1/ai/tasks/{earliest.json()['id']}", headers=member.headers)
    assert task.json()["input"] == {"from": "0001-01-01", "to": "0001-01-01"}
    assert (await coach.post("/api/v1/ai/review", json={"date": DAY})).status_code == 401
