"""Seed 001 (/work/shared/specs/001_3b00666808fc1374.txt, app `coach`) as a client written from
the document would use it: the paths and methods of section 4.2 under `/api/v1`, the records
under the table names of section 4.1, and the fields 4.1 gives each table.

The document prints no JSON example, request or answer: its section 4.1 lists each table's
contents in words, which are the nearest thing. So each answer below is checked for the field
each of those words names, with its JSON type, and the bodies use the field names the server
documents for the words 4.2 gives (a day's records, a review's date, a file's name, type and
size). Where the document says how a call behaves (4.2: the AI answers a task id at once and
the client polls `/ai/tasks/{id}`; section 7: 30-minute access tokens, 7-day refresh tokens;
section 10: an optimistic lock), the test checks that too."""

from typing import Any

import httpx
import pytest

from keel.apps.coach.tasks import queue
from keel.core.db import Database
from keel.core.jobs import Worker
from keel.settings import Settings
from tests.apps.coach import builders
from tests.apps.coach.builders import DAY, RECORDS, Member

API = "/api/v1"

UUID, DATETIME, DATE, NUMBER = "uuid", "datetime", "date", "number"
Kind = type | str | tuple[type | str | None, ...]

# 4.1 `users` (账号信息、加盐哈希密码、手机号/邮箱、状态): the account, its phone or email; the
# salted hash is never answered.
USER: dict[str, Kind] = {"id": int, "email": (str, None), "phone": (str, None), "created_at": DATETIME}
# 4.1 `sessions` (Refresh Token、设备信息、过期时间): the device and its expiry (the token itself
# is the client's only).
SESSION: dict[str, Kind] = {"id": UUID, "device": (str, None), "expires_at": DATETIME}
# 4.1 `day_logs` (日期、综合评分、AI 报告、状态), and the records it holds (各维度记录，与
# `day_logs` 关联).
DAY_LOG: dict[str, Kind] = {
    "date": DATE,
    "score": int,
    "ai_report": (dict, None),
    "status": str,
    "records": dict,
}
# 4.1 `ai_tasks` (任务类型、输入、结果、状态、LLM token 统计).
AI_TASK: dict[str, Kind] = {
    "id": UUID,
    "type": str,
    "input": dict,
    "result": (dict, None),
    "status": str,
    "tokens_in": (int, None),
    "tokens_out": (int, None),
}
# 4.1 `targets/settings/notifications` (目标值、提醒配置): the five targets of section 1's five
# dimensions, the reminders.
TARGETS: dict[str, Kind] = {
    "sleep_hours": NUMBER,
    "workout_minutes": NUMBER,
    "calories": NUMBER,
    "focus_minutes": NUMBER,
    "reading_minutes": NUMBER,
}
NOTIFICATIONS: dict[str, Kind] = {"review_reminder": bool, "review_time": str, "plan_reminder": bool}
# 4.2 `/files/presign` (获取上传 URL).
PRESIGN: dict[str, Kind] = {"url": str, "expires_at": DATETIME}
# Section 10's optimistic lock: every record carries its version.
RECORD: dict[str, Kind] = {"id": UUID, "date": DATE, "version": int, "updated_at": DATETIME}
# 4.1's table names for section 1's five dimensions (运动/饮食/睡眠/工作/读书).
TABLES = {
    "workouts": "workout",
    "meals": "meal",
    "sleeps": "sleep",
    "work_notes": "work",
    "readings": "reading",
}


@pytest.fixture
async def member(coach: httpx.AsyncClient) -> Member:
    return await builders.member(coach)


def _is(value: Any, kind: Kind) -> bool:
    if isinstance(kind, tuple):
        return any(_is(value, each) for each in kind)
    if kind is None:
        return value is None
    if kind in (UUID, DATETIME, DATE):
        return isinstance(value, str) and len(value) >= 10
    if kind == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    assert isinstance(kind, type)
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def check(body: dict[str, Any], fields: dict[str, Kind]) -> None:
    for name, kind in fields.items():
        assert name in body, f"missing {name!r} in {body}"
        assert _is(body[name], kind), f"{name!r} is {body[name]!r}, not {kind}"


async def test_auth_register_login_refresh_logout(coach: httpx.AsyncClient) -> None:
    registration = builders.registration()
    registered = await coach.post(f"{API}/auth/register", json=registration)
    assert registered.status_code == 201, registered.text
    check(registered.json()["user"], USER)
    assert not any("password" in name for name in registered.json()["user"])
    login = await coach.post(
        f"{API}/auth/login", json={"email": registration["email"], "password": registration["password"]}
    )
    assert login.status_code == 200
    tokens = login.json()
    assert tokens["expires_in"] == 30 * 60  # section 7: refreshed every 30 minutes
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    sessions = (await coach.get(f"{API}/me/sessions", headers=headers)).json()
    assert len(sessions) == 2  # the registration's and the login's
    for session in sessions:
        check(session, SESSION)
    refreshed = await coach.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    fresh = refreshed.json()
    logout = await coach.post(
        f"{API}/auth/logout",
        json={"refresh_token": fresh["refresh_token"]},
        headers={"Authorization": f"Bearer {fresh['access_token']}"},
    )
    assert logout.status_code in (200, 204), logout.text


async def test_records_by_the_tables_names_with_get_post_put_delete(
    coach: httpx.AsyncClient, member: Member
) -> None:
    for table, dimension in TABLES.items():
        path = f"{API}/records/{table}"
        created = await coach.post(path, json={"date": DAY, **RECORDS[dimension]}, headers=member.headers)
        assert created.status_code == 201, (table, created.text)
        check(created.json(), RECORD)
        listed = await coach.get(path, headers=member.headers)
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]
        one = f"{path}/{created.json()['id']}"
        edited = await coach.put(one, json={**RECORDS[dimension], "version": 1}, headers=member.headers)
        assert edited.status_code == 200, (table, edited.text)
        # Section 10: the optimistic lock refuses an edit of a version the record has left.
        stale = await coach.put(one, json={**RECORDS[dimension], "version": 1}, headers=member.headers)
        assert stale.status_code == 409
        check(stale.json()["current"], RECORD)
        # The record belongs to its day's log.
        day = (await coach.get(f"{API}/day-logs/{DAY}", headers=member.headers)).json()
        assert [r["id"] for r in day["records"][dimension]] == [created.json()["id"]]
        assert (await coach.delete(one, headers=member.headers)).status_code == 204
        assert (await coach.get(one, headers=member.headers)).status_code == 404


async def test_day_logs_get_and_put(coach: httpx.AsyncClient, member: Member) -> None:
    await builders.record(coach, member, "sleep")
    read = await coach.get(f"{API}/day-logs/{DAY}", headers=member.headers)
    assert read.status_code == 200
    check(read.json(), DAY_LOG)
    assert read.json()["score"] > 0
    changed = await coach.put(f"{API}/day-logs/{DAY}", json={"status": "reviewed"}, headers=member.headers)
    assert changed.status_code == 200
    check(changed.json(), DAY_LOG)
    assert changed.json()["status"] == "reviewed"


async def test_ai_review_and_plan_answer_a_task_id_at_once_then_the_task_is_polled(
    coach: httpx.AsyncClient, member: Member, coach_database: Database, settings: Settings
) -> None:
    await builders.record(coach, member, "workout")
    accepted = [
        await coach.post(f"{API}/ai/review", json={"date": DAY}, headers=member.headers),
        await coach.post(f"{API}/ai/tomorrow-plan", json={"date": DAY}, headers=member.headers),
    ]
    for answer in accepted:
        assert answer.status_code == 202, answer.text
        check(answer.json(), AI_TASK)
    await Worker(queue, coach_database, settings).run_until_idle()
    for answer in accepted:
        polled = await coach.get(f"{API}/ai/tasks/{answer.json()['id']}", headers=member.headers)
        assert polled.status_code == 200
        check(polled.json(), AI_TASK)
        assert polled.json()["status"] == "succeeded"
        assert isinstance(polled.json()["result"], dict)
    day = (await coach.get(f"{API}/day-logs/{DAY}", headers=member.headers)).json()
    assert isinstance(day["ai_report"], dict)


async def test_stats_weekly_and_monthly(coach: httpx.AsyncClient, member: Member) -> None:
    await builders.record(coach, member, "reading")
    for period in ("weekly", "monthly"):
        answer = await coach.get(f"{API}/stats/{period}", params={"date": DAY}, headers=member.headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body["dimensions"]) == set(TABLES.values())
        assert body["dimensions"]["reading"]["total"] == RECORDS["reading"]["minutes"]


async def test_settings_targets_and_notifications_are_put(coach: httpx.AsyncClient, member: Member) -> None:
    targets = await coach.put(f"{API}/settings/targets", json={"sleep_hours": 7.5}, headers=member.headers)
    assert targets.status_code == 200, targets.text
    check(targets.json(), TARGETS)
    assert targets.json()["sleep_hours"] == 7.5
    notifications = await coach.put(
        f"{API}/settings/notifications", json={"review_time": "22:00"}, headers=member.headers
    )
    assert notifications.status_code == 200, notifications.text
    check(notifications.json(), NOTIFICATIONS)


async def test_files_presign_answers_an_upload_url(coach: httpx.AsyncClient, member: Member) -> None:
    answer = await coach.post(
        f"{API}/files/presign",
        json={"filename": "breakfast.jpg", "content_type": "image/jpeg", "size": 120_000},
        headers=member.headers,
    )
    assert answer.status_code == 200, answer.text
    check(answer.json(), PRESIGN)


async def test_every_path_of_section_4_2_is_in_the_openapi_document(coach: httpx.AsyncClient) -> None:
    """Section 4.3: the contract is an OpenAPI document; 4.2's paths and methods are in it."""
    paths = (await coach.get("/openapi.json")).json()["paths"]
    expected = {
        **{f"{API}/auth/{step}": {"post"} for step in ("register", "login", "refresh", "logout")},
        **{f"{API}/records/{table}": {"get", "post"} for table in TABLES},
        **{f"{API}/records/{table}/{{record_id}}": {"get", "put", "delete"} for table in TABLES},
        f"{API}/day-logs/{{date}}": {"get", "put"},
        f"{API}/ai/review": {"post"},
        f"{API}/ai/tomorrow-plan": {"post"},
        f"{API}/ai/tasks/{{task_id}}": {"get"},
        f"{API}/stats/weekly": {"get"},
        f"{API}/stats/monthly": {"get"},
        f"{API}/settings/targets": {"put"},
        f"{API}/settings/notifications": {"put"},
        f"{API}/files/presign": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
