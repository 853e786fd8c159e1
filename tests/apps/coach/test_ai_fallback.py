"""Issue 16: the rules answer honestly (marked `fallback`, in the user's language), a fallback
never replaces a model's result, stats summaries are written only when worth their cost, and
every AI call shows in /metrics."""

import datetime as dt
import re
import uuid

import httpx
import pytest
from sqlalchemy import update

from keel.apps.coach.models import StatsSummary, User
from keel.apps.coach.services import summaries
from keel.core.db import Database, utcnow
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import DAY, Member
from tests.apps.coach.fake_llm import GOOD, FakeLLM

TODAY = dt.date.today().isoformat()


async def _task(coach: httpx.AsyncClient, who: Member, task_id: str) -> dict:
    response = await coach.get(f"/api/v1/ai/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _speak_chinese(coach: httpx.AsyncClient, who: Member) -> None:
    answer = await coach.put(
        "/api/v1/settings/ai", json={"style": "gentle", "language": "zh"}, headers=who.headers
    )
    assert answer.status_code == 200, answer.text


def _llm(llm: FakeLLM, **overrides: object) -> dict[str, object]:
    return {
        "coach_llm_base_url": llm.url,
        "coach_llm_model": "fake-model",
        "coach_llm_attempts": 1,
        **overrides,
    }


@pytest.mark.parametrize("configured", [False, True])
async def test_the_rules_write_simplified_chinese_for_zh_in_every_kind(
    coach, member: Member, run_jobs, llm: FakeLLM, configured: bool
) -> None:
    llm.mode = "fail"
    await _speak_chinese(coach, member)
    for dimension in ("workout", "reading"):
        await builders.record(coach, member, dimension, day=TODAY)
    submitted = {
        "review": await coach.post("/api/v1/ai/review", json={"date": TODAY}, headers=member.headers),
        "plan": await coach.post("/api/v1/ai/tomorrow-plan", json={}, headers=member.headers),
        "reading": await coach.post("/api/v1/ai/reading-summary", json={}, headers=member.headers),
    }
    stats = await coach.get("/api/v1/stats/weekly", params={"summary": "true"}, headers=member.headers)
    await run_jobs(**(_llm(llm) if configured else {}))
    tasks = {name: await _task(coach, member, response.json()["id"]) for name, response in submitted.items()}
    tasks["stats"] = await _task(coach, member, stats.json()["ai_summary_task_id"])
    for name, task in tasks.items():
        assert task["status"] == "succeeded", name
        assert task["fallback"] is task["result"]["fallback"] is True
        assert task["provider"] == ("rules:fallback" if configured else "rules")
        assert re.search(r"[\u4e00-\u9fff]", task["result"]["summary"]), (name, task["result"]["summary"])
    assert tasks["review"]["result"]["summary"].startswith(f"坚持记录，做得很好。{TODAY}：得分")
    assert "运动：30 分钟（目标 30 分钟）" in tasks["review"]["result"]["highlights"]
    assert tasks["plan"]["result"]["summary"].endswith("的计划，依据你最近 7 天的日均数据。")
    assert tasks["reading"]["result"]["highlights"] == ["Deep Work：20 页，30 分钟"]
    assert tasks["stats"]["result"]["summary"].startswith("坚持记录，做得很好。本周（自 ")
    weekly = (await coach.get("/api/v1/stats/weekly", headers=member.headers)).json()
    assert weekly["ai_summary"] == tasks["stats"]["result"]["summary"]


async def test_a_fallback_is_kept_only_until_a_model_answers(
    coach, member: Member, run_jobs, llm: FakeLLM
) -> None:
    llm.mode = "fail"
    first = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    await run_jobs(**_llm(llm))
    day = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()
    assert day["ai_report"]["fallback"] is True  # no success yet: the fallback is answered

    llm.mode = "good"
    again = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    assert again.json()["id"] == first.json()["id"]  # the same task, run again
    await run_jobs(**_llm(llm))
    task = await _task(coach, member, first.json()["id"])
    assert (task["provider"], task["fallback"], task["result"]["summary"]) == (
        "llm:fake-model",
        False,
        GOOD["summary"],
    )
    day = (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()
    assert day["ai_report"]["summary"] == GOOD["summary"]

    # With the model's answer stored, another submit answers it: no call, nothing replaced.
    llm.mode, calls = "fail", len(llm.requests)
    repeat = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    assert (repeat.json()["id"], repeat.json()["status"]) == (first.json()["id"], "succeeded")
    await run_jobs(**_llm(llm))
    assert len(llm.requests) == calls
    assert (await coach.get(f"/api/v1/day-logs/{DAY}", headers=member.headers)).json()["ai_report"] == day[
        "ai_report"
    ]


async def test_a_fallback_never_replaces_a_models_stats_summary(
    coach, member: Member, run_jobs, llm: FakeLLM, coach_database: Database
) -> None:
    await builders.record(coach, member, "workout", day=TODAY)
    asked = {"summary": "true"}
    first = (await coach.get("/api/v1/stats/weekly", params=asked, headers=member.headers)).json()
    await run_jobs(**_llm(llm))
    assert (await coach.get("/api/v1/stats/weekly", headers=member.headers)).json()["ai_summary"] == GOOD[
        "summary"
    ]

    async with coach_database.sessionmaker() as session, session.begin():  # the summary, 7 hours old
        await session.execute(
            update(StatsSummary)
            .where(StatsSummary.task_id == uuid.UUID(first["ai_summary_task_id"]))
            .values(created_at=utcnow() - dt.timedelta(hours=7))
        )
    llm.mode = "fail"
    stale = (await coach.get("/api/v1/stats/weekly", params=asked, headers=member.headers)).json()
    assert stale["ai_summary_task_id"] == first["ai_summary_task_id"]  # the same task, run again
    assert stale["ai_summary"] == GOOD["summary"]  # the old one stays while it runs
    await run_jobs(**_llm(llm))
    assert len(llm.requests) == 2
    weekly = (await coach.get("/api/v1/stats/weekly", headers=member.headers)).json()
    assert weekly["ai_summary"] == GOOD["summary"]
    task = await _task(coach, member, first["ai_summary_task_id"])
    assert (task["status"], task["fallback"], task["provider"]) == ("succeeded", False, "llm:fake-model")
    assert task["error"].startswith("The LLM failed, so its last result was kept")


async def test_summaries_only_for_periods_with_records_since_the_account(coach, member: Member) -> None:
    asked = {"summary": "true"}
    empty = (await coach.get("/api/v1/stats/weekly", params=asked, headers=member.headers)).json()
    assert empty["ai_summary_task_id"] is None  # no records this week
    await builders.record(coach, member, "workout", day="2025-03-05")  # before the account existed
    for kind in ("weekly", "monthly"):
        old = await coach.get(
            f"/api/v1/stats/{kind}", params={**asked, "date": "2025-03-05"}, headers=member.headers
        )
        assert old.json()["dimensions"]["workout"]["records"] == 1
        assert old.json()["ai_summary_task_id"] is None
    # Browsing 25 past weeks starts nothing.
    for weeks in range(25):
        day = (dt.date.today() - dt.timedelta(weeks=weeks)).isoformat()
        await coach.get("/api/v1/stats/weekly", params={"date": day}, headers=member.headers)
    assert (await coach.get("/api/v1/ai/tasks", headers=member.headers)).json()["total"] == 0


async def test_summaries_spend_the_ai_rate_limit(coach_database: Database, settings: Settings) -> None:
    from keel.server import build_server

    # Scaled so the AI bucket holds one token (reads and writes keep plenty).
    server = build_server(
        settings.model_copy(update={"rate_limit_scale": 0.05}),
        only="coach",
        databases={"coach": coach_database},
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://coach.test"
    ) as client:
        member = await builders.member(client)
        await builders.record(client, member, "workout", day=TODAY)
        read = await client.get("/api/v1/stats/weekly", params={"summary": "true"}, headers=member.headers)
        assert read.json()["ai_summary_task_id"]
        limited = await client.post("/api/v1/ai/review", json={"date": TODAY}, headers=member.headers)
        assert limited.status_code == 429
        assert "Retry-After" in limited.headers


async def test_the_nightly_job_summarises_the_periods_just_ended(
    coach, member: Member, run_jobs, coach_database: Database, settings: Settings
) -> None:
    today = dt.date.today()
    last_week = today - dt.timedelta(days=7)
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    async with coach_database.sessionmaker() as session, session.begin():  # an account made 90 days ago
        await session.execute(
            update(User).where(User.id == member.id).values(created_at=utcnow() - dt.timedelta(days=90))
        )
    await builders.record(coach, member, "workout", day=last_week.isoformat())
    await builders.record(coach, member, "workout", day=last_month.isoformat())
    await summaries.summarise_ended_periods(coach_database, settings)
    await summaries.summarise_ended_periods(coach_database, settings)  # a second run adds nothing
    tasks = (await coach.get("/api/v1/ai/tasks", headers=member.headers)).json()
    assert sorted(task["input"]["period"] for task in tasks["items"]) == ["monthly", "weekly"]
    await run_jobs()
    weekly = await coach.get(
        "/api/v1/stats/weekly", params={"date": last_week.isoformat()}, headers=member.headers
    )
    assert weekly.json()["ai_summary"].startswith("Well done for keeping track. Weekly from")
    monthly = await coach.get(
        "/api/v1/stats/monthly", params={"date": last_month.isoformat()}, headers=member.headers
    )
    assert monthly.json()["ai_summary"].startswith("Well done for keeping track. Monthly from")


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of the series `name` with these labels (0 when it has none yet)."""
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(key) == value for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_ai_calls_show_in_metrics(coach, member: Member, run_jobs, llm: FakeLLM) -> None:
    llm_labels = {"app": "coach", "provider": "llm:fake-model", "kind": "review"}
    rules_labels = {"app": "coach", "provider": "rules", "kind": "review"}
    before = (await coach.get("/metrics")).text
    good = await coach.post("/api/v1/ai/review", json={"date": DAY}, headers=member.headers)
    await run_jobs(**_llm(llm))
    assert (await coach.get(f"/api/v1/ai/tasks/{good.json()['id']}", headers=member.headers)).json()[
        "fallback"
    ] is False
    llm.mode = "fail"
    await coach.post("/api/v1/ai/review", json={"date": "2026-11-21"}, headers=member.headers)
    await run_jobs(**_llm(llm))
    after = (await coach.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew("keel_ai_requests_total", **llm_labels, outcome="success") == 1
    assert grew("keel_ai_requests_total", **llm_labels, outcome="failure") == 1
    assert grew("keel_ai_requests_total", **rules_labels, outcome="fallback") == 1
    assert grew("keel_ai_tokens_total", **llm_labels, direction="input") == 120
    assert grew("keel_ai_tokens_total", **llm_labels, direction="output") == 40
    assert grew("keel_ai_request_duration_seconds_count", **llm_labels) == 2
    assert grew("keel_ai_request_duration_seconds_count", **rules_labels) == 1
