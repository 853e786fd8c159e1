"""Support's reads for the admin console (issue 15): users with their AI tasks' counts, one
user's detail (records per dimension, AI usage against the quota, newest tasks), the AI tasks
across users with filters, and one task with what it wrote withheld; only for an admin."""

import uuid

import httpx
import pytest

from keel.apps.coach.models import User
from keel.apps.coach.seed import seed
from keel.apps.coach.services import providers
from keel.apps.coach.tasks import queue
from keel.core.db import Database
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import DAY, Member
from tests.apps.coach.fake_llm import GOOD, FakeLLM
from tests.databases import promote_to_admin

ADMIN = "/api/v1/admin"


@pytest.fixture
async def admin(coach: httpx.AsyncClient, coach_database: Database) -> Member:
    # The token needs no refresh: the admin flag is read from the user's row on each request.
    who = await builders.member(coach)
    await promote_to_admin(coach_database, User, who.id)
    return who


def _items(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _review(coach: httpx.AsyncClient, who: Member, day: str = DAY) -> str:
    accepted = await coach.post("/api/v1/ai/review", json={"date": day}, headers=who.headers)
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["id"]


async def _fail_next_run(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("writer exploded")

    monkeypatch.setattr(providers, "write", broken)
    monkeypatch.setattr(queue, "max_attempts", 1)  # the first attempt is the last: failed


@pytest.mark.parametrize(
    "path",
    [
        "/users",
        "/users/1",
        "/ai/tasks",
        "/ai/tasks/00000000-0000-4000-8000-000000000000",
        "/ai/providers",
    ],
)
async def test_only_an_admin_reads_the_support_views(
    coach: httpx.AsyncClient, member: Member, admin: Member, path: str
) -> None:
    assert (await coach.get(ADMIN + path)).status_code == 401
    refused = await coach.get(ADMIN + path, headers=member.headers)
    assert (refused.status_code, refused.json()["detail"]) == (403, "Administrator access required")
    assert (await coach.get(ADMIN + path, headers=admin.headers)).status_code in (200, 404)


async def test_me_says_who_is_an_admin(coach: httpx.AsyncClient, member: Member, admin: Member) -> None:
    assert (await coach.get("/api/v1/me", headers=member.headers)).json()["is_admin"] is False
    assert (await coach.get("/api/v1/me", headers=admin.headers)).json()["is_admin"] is True


async def test_users_are_searched_and_paged_newest_first_with_their_task_counts(
    coach: httpx.AsyncClient, admin: Member, run_jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:8]
    ann = await builders.member(coach, display_name=f"Ann {tag}")
    bo = await builders.member(coach, display_name=f"Bo {tag.upper()}")
    cy = await builders.member(coach, display_name=f"Cy {tag}")
    await _review(coach, bo)
    await run_jobs()
    await _fail_next_run(monkeypatch)
    await _review(coach, bo, "2026-11-21")
    await run_jobs()

    found = await coach.get(f"{ADMIN}/users", params={"q": tag}, headers=admin.headers)
    assert [user["id"] for user in _items(found)] == [cy.id, bo.id, ann.id]  # any case, newest first
    assert (found.json()["total"], found.json()["total_pages"]) == (3, 1)
    listed = {user["id"]: user for user in found.json()["items"]}
    assert (listed[bo.id]["ai_tasks"], listed[bo.id]["ai_failed"]) == (2, 1)
    assert listed[bo.id]["last_task_at"] is not None
    assert (listed[ann.id]["ai_tasks"], listed[ann.id]["ai_failed"], listed[ann.id]["last_task_at"]) == (
        0,
        0,
        None,
    )
    assert "hashed_password" not in listed[ann.id]
    assert listed[ann.id]["email"] == ann.email and listed[ann.id]["is_active"] is True

    second = await coach.get(
        f"{ADMIN}/users", params={"q": tag, "limit": 2, "page": 2}, headers=admin.headers
    )
    assert [user["id"] for user in _items(second)] == [ann.id]
    assert (second.json()["total"], second.json()["total_pages"]) == (3, 2)
    by_email = await coach.get(f"{ADMIN}/users", params={"q": bo.email.upper()}, headers=admin.headers)
    assert [user["id"] for user in _items(by_email)] == [bo.id]
    # A wildcard is a character like any other.
    assert _items(await coach.get(f"{ADMIN}/users", params={"q": f"{tag}%"}, headers=admin.headers)) == []
    everyone = await coach.get(f"{ADMIN}/users", headers=admin.headers)
    assert everyone.json()["total"] >= 4 and everyone.json()["items"][0]["id"] >= cy.id
    too_long = await coach.get(f"{ADMIN}/users", params={"q": "x" * 101}, headers=admin.headers)
    assert too_long.status_code == 422


async def test_a_users_detail_counts_their_records_and_ai_usage(
    coach: httpx.AsyncClient, admin: Member, run_jobs
) -> None:
    who = await builders.member(coach, display_name="Dee", phone="+8613912345678")
    await builders.record(coach, who, "workout")
    await builders.record(coach, who, "meal")
    await builders.record(coach, who, "meal", "2026-11-22")
    gone = await builders.record(coach, who, "reading")
    deleted = await coach.delete(f"/api/v1/records/reading/{gone['id']}", headers=who.headers)
    assert deleted.status_code == 204, deleted.text
    task_id = await _review(coach, who)
    await run_jobs()

    answer = await coach.get(f"{ADMIN}/users/{who.id}", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    detail = answer.json()
    assert (detail["id"], detail["email"], detail["phone"], detail["display_name"]) == (
        who.id,
        who.email,
        "+8613912345678",
        "Dee",
    )
    assert detail["privacy_policy_version"] == "2026-11-01" and "hashed_password" not in detail
    assert detail["ai_settings"] == {"style": "gentle", "language": "en"}
    assert detail["records"] == {"workout": 1, "meal": 2, "sleep": 0, "work": 0, "reading": 0}
    assert detail["day_logs"] == 2
    assert detail["last_record_day"] == "2026-11-22"
    assert detail["sessions"]["active"] == 1 and detail["sessions"]["last_used_at"] is not None
    usage = detail["ai_usage"]
    assert (usage["daily_quota"], usage["today"]) == (50, 1)
    assert [day["tasks"] for day in usage["days"]] == [1]
    assert usage["by_status"] == {"queued": 0, "running": 0, "succeeded": 1, "failed": 0, "canceled": 0}
    [recent] = detail["recent_tasks"]
    assert (recent["id"], recent["status"], recent["provider"], recent["fallback"]) == (
        task_id,
        "succeeded",
        "rules",
        True,
    )
    assert recent["user"] == {"id": who.id, "email": who.email, "display_name": "Dee"}
    assert (detail["ai_tasks"], detail["ai_failed"]) == (1, 0)

    missing = await coach.get(f"{ADMIN}/users/{2**31 - 1}", headers=admin.headers)
    assert (missing.status_code, missing.json()["detail"]) == (404, "No such user")
    assert (await coach.get(f"{ADMIN}/users/0", headers=admin.headers)).status_code == 422


async def test_ai_tasks_across_users_filter_by_status_provider_and_user(
    coach: httpx.AsyncClient, admin: Member, run_jobs, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, bo = await builders.member(coach), await builders.member(coach)
    good = await _review(coach, ann)
    await run_jobs(coach_llm_base_url=llm.url, coach_llm_model="fake-model")
    # Canceled before a worker runs it: its job then ends without running (no job stays queued).
    queued = await _review(coach, ann, "2026-11-21")
    await coach.post(f"/api/v1/ai/tasks/{queued}/cancel", headers=ann.headers)
    await _fail_next_run(monkeypatch)
    bad = await _review(coach, bo)
    await run_jobs()

    async def listed(**params: str | int) -> list[dict]:
        return _items(await coach.get(f"{ADMIN}/ai/tasks", params=params, headers=admin.headers))

    assert [task["id"] for task in await listed(user_id=ann.id)] == [queued, good]
    [written] = await listed(user_id=ann.id, status="succeeded")
    assert written["id"] == good
    assert (written["provider"], written["model"], written["fallback"]) == (
        "llm:fake-model",
        "fake-model",
        False,
    )
    assert (written["tokens_in"], written["tokens_out"], written["error"]) == (120, 40, None)
    assert written["latency_ms"] >= 0 and written["finished_at"] == written["updated_at"]
    assert (written["type"], written["subject"], written["runs"]) == ("review", DAY, 1)
    assert written["user"]["id"] == ann.id
    assert "input" not in written and "result" not in written

    [failed] = await listed(user_id=bo.id, status="failed")
    assert (failed["id"], failed["error"], failed["provider"], failed["model"]) == (
        bad,
        "RuntimeError: writer exploded",
        None,
        None,
    )
    assert failed["finished_at"] is not None
    assert bad in [task["id"] for task in await listed(status="failed", limit=100)]
    assert [task["id"] for task in await listed(user_id=ann.id, status="canceled")] == [queued]
    assert [task["id"] for task in await listed(user_id=ann.id, provider="llm")] == [good]
    assert [task["id"] for task in await listed(user_id=ann.id, provider="llm:fake-model")] == [good]
    assert await listed(user_id=ann.id, provider="llm:fake") == []  # a family is a whole name
    assert await listed(user_id=ann.id, provider="rules") == []
    assert await listed(user_id=ann.id, type="tomorrow_plan") == []
    assert await listed(user_id=2**31 - 1) == []
    paged = await coach.get(
        f"{ADMIN}/ai/tasks", params={"user_id": ann.id, "limit": 1, "page": 2}, headers=admin.headers
    )
    assert [task["id"] for task in _items(paged)] == [good]
    assert (paged.json()["total"], paged.json()["total_pages"]) == (2, 2)
    for bad_query in ({"status": "lost"}, {"user_id": 0}, {"provider": "x" * 65}, {"type": "poem"}):
        assert (
            await coach.get(f"{ADMIN}/ai/tasks", params=bad_query, headers=admin.headers)
        ).status_code == 422

    counts = (await coach.get(f"{ADMIN}/ai/providers", headers=admin.headers)).json()
    assert {"llm:fake-model"} <= {entry["provider"] for entry in counts}
    assert all(entry["tasks"] >= 1 for entry in counts)
    assert [entry["tasks"] for entry in counts] == sorted((entry["tasks"] for entry in counts), reverse=True)


async def test_a_tasks_detail_shows_its_input_and_withholds_what_it_wrote(
    coach: httpx.AsyncClient, admin: Member, run_jobs, llm: FakeLLM
) -> None:
    who = await builders.member(coach)
    task_id = await _review(coach, who)
    await run_jobs(coach_llm_base_url=llm.url, coach_llm_model="fake-model")
    own = (await coach.get(f"/api/v1/ai/tasks/{task_id}", headers=who.headers)).json()
    assert own["result"]["summary"] == GOOD["summary"]  # the user reads it; support does not

    answer = await coach.get(f"{ADMIN}/ai/tasks/{task_id}", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    detail = answer.json()
    assert (detail["id"], detail["input"], detail["status"], detail["user"]["id"]) == (
        task_id,
        {"date": DAY},
        "succeeded",
        who.id,
    )
    assert detail["result"] == {
        "fallback": False,
        "task_id": task_id,
        "provider": "llm:fake-model",
        "created_at": own["result"]["created_at"],
    }
    assert detail["withheld"] == [
        {"field": "summary", "size": len(GOOD["summary"]), "unit": "characters"},
        {"field": "highlights", "size": 1, "unit": "items"},
        {"field": "suggestions", "size": 1, "unit": "items"},
    ]
    assert GOOD["summary"] not in answer.text
    missing = await coach.get(f"{ADMIN}/ai/tasks/{uuid.uuid4()}", headers=admin.headers)
    assert (missing.status_code, missing.json()["detail"]) == (404, "No such AI task")
    assert (await coach.get(f"{ADMIN}/ai/tasks/not-a-uuid", headers=admin.headers)).status_code == 422


async def test_the_demo_seed_gives_support_three_tasks_once(
    coach: httpx.AsyncClient, coach_database: Database, settings: Settings, admin: Member
) -> None:
    for _ in range(2):
        async with coach_database.sessionmaker() as session:
            await seed(session, settings, demo=True)
            await session.commit()
    [demo] = _items(
        await coach.get(f"{ADMIN}/users", params={"q": "coach@example.com"}, headers=admin.headers)
    )
    tasks = _items(
        await coach.get(f"{ADMIN}/ai/tasks", params={"user_id": demo["id"]}, headers=admin.headers)
    )
    assert sorted((task["type"], task["status"]) for task in tasks) == [
        ("reading_summary", "succeeded"),
        ("review", "succeeded"),
        ("tomorrow_plan", "failed"),
    ]
    failed = next(task for task in tasks if task["status"] == "failed")
    assert failed["error"].startswith("TimeoutError")
    review = next(task for task in tasks if task["type"] == "review")
    assert (review["model"], review["tokens_in"], review["tokens_out"]) == ("gpt-4o-mini", 412, 168)
    fallback = next(task for task in tasks if task["type"] == "reading_summary")
    assert (fallback["provider"], fallback["fallback"]) == ("rules:fallback", True)
    detail = (await coach.get(f"{ADMIN}/users/{demo['id']}", headers=admin.headers)).json()
    assert detail["ai_usage"]["today"] == 3 and detail["records"]["meal"] == 3 * 14
    day = review["subject"]
    log = await coach.post(
        "/api/v1/auth/login", json={"email": "coach@example.com", "password": "password123"}
    )
    headers = {"Authorization": f"Bearer {log.json()['access_token']}"}
    report = (await coach.get(f"/api/v1/day-logs/{day}", headers=headers)).json()["ai_report"]
    assert report["task_id"] == review["id"]
