"""Seed 000 (/work/shared/specs/000_3568c82c7f815611.txt, app `fitness`) as a client written
from the document would use it: the paths of section 4 under `/api/v1`, the field names of
section 3.2's models, the header, client id and statuses of section 2.1's sequence diagram.

The document gives no JSON example bodies. Its section 3.2 models are the nearest thing: each
body below uses their field names exactly, with the values their comments give (`# bike,
rower, treadmill`, `# backend, local, free`, `# m, f, o`), and says which lines it follows.
The document names no metric keys, so `metrics_summary` and the points use the ones `GET
/meta/schemas` (4.5) describes, as the admin page of section 5 reads them."""

import uuid
from datetime import datetime
from typing import Any

import httpx

from keel.core.db import Database
from tests.apps.fitness import builders
from tests.apps.fitness.builders import Athlete
from tests.images import png

API = "/api/v1"

# A JSON value's kind, as section 3.2 types it: `uuid.UUID` and `datetime` travel as strings.
UUID, DATETIME, FLOAT = "uuid", "datetime", "float"
Kind = type | str | tuple[type | str | None, ...]

# 3.2 `class User`: every field but `hashed_password`, which no answer may carry.
USER: dict[str, Kind] = {
    "id": int,
    "user_uuid": UUID,
    "email": str,
    "display_name": str,
    "avatar_url": (str, None),
    "gender": str,
    "height_cm": (FLOAT, None),
    "weight_kg": (FLOAT, None),
    "is_active": bool,
    "created_at": DATETIME,
}
# 3.2 `class UserStat`. Its `user_id` is left out: 4.2 embeds it in the user ("含 UserStat"),
# whose `id` it is (the document does not say how the embedding reads; this is its plain reading).
USER_STAT: dict[str, Kind] = {
    "total_distance_km": FLOAT,
    "total_duration_seconds": int,
    "total_calories": FLOAT,
    "total_xp": int,
    "current_level": int,
    "workout_streak_days": int,
    "last_workout_date": (DATETIME, None),
}
# 3.2 `class Training`.
TRAINING: dict[str, Kind] = {
    "id": int,
    "title": str,
    "type": str,
    "cover_url": str,
    "video_url": (str, None),
    "settings": dict,
    "supported_devices": list,
    "enabled": bool,
}
# 3.2 `class WorkoutSession`. 4.4 gives the points ("曲線圖數據") with the detail only, so a
# list item has every field but `time_series_data`.
WORKOUT_SESSION_ITEM: dict[str, Kind] = {
    "id": UUID,
    "client_session_id": str,
    "user_id": int,
    "source_type": str,
    "training_id": (int, None),
    "internal_course_name": (str, None),
    "device_type": str,
    "start_time": DATETIME,
    "end_time": DATETIME,
    "duration_seconds": int,
    "total_calories": FLOAT,
    "total_distance_meters": FLOAT,
    "xp_earned": int,
    "metrics_summary": dict,
    "created_at": DATETIME,
}
WORKOUT_SESSION = WORKOUT_SESSION_ITEM | {"time_series_data": list}

# 3.2 `class WorkoutSession`, every field the phone fills (`id`, `user_id` and `created_at` are
# the server's), values from its comments: `source_type` "free" of `# backend, local, free`,
# `device_type` "rower" of `# bike, rower, treadmill`; the client id a UUIDv4, as 2.1 makes it.
ROWER_SESSION: dict[str, Any] = {
    "client_session_id": "9b2f4c4e-3f5a-4d0c-8a63-1f2e7d9c5b10",
    "source_type": "free",
    "training_id": None,
    "internal_course_name": None,
    "device_type": "rower",
    "start_time": "2025-12-19T07:00:00Z",
    "end_time": "2025-12-19T07:30:00Z",
    "duration_seconds": 1800,
    "total_calories": 312.5,
    "total_distance_meters": 6000.0,
    "xp_earned": 120,
    "metrics_summary": {"avg_watts": 150.0, "avg_spm": 24.0, "total_strokes": 720},
    "time_series_data": [
        {"t": 0.0, "watts": 140.0, "spm": 23.0, "distance": 0.0},
        {"t": 900.0, "watts": 152.0, "spm": 24.0, "distance": 3000.0},
        {"t": 1800.0, "watts": 158.0, "spm": 25.0, "distance": 6000.0},
    ],
}

# 3.2 `class Training`: `type` "course" of `# course, game, free`, `supported_devices` the
# comment's own `["bike", "rower"]`, `settings` the resistance script ("阻力腳本"), whose shape
# the document leaves to the app (stored and given back as sent).
TRAINING_BODY: dict[str, Any] = {
    "title": "Morning intervals",
    "type": "course",
    "cover_url": "https://cdn.example.com/covers/intervals.jpg",
    "video_url": "https://cdn.example.com/videos/intervals.mp4",
    "settings": {"segments": [{"seconds": 60, "resistance": 8}, {"seconds": 30, "resistance": 14}]},
    "supported_devices": ["bike", "rower"],
    "enabled": True,
}


def assert_fits(body: dict[str, Any], model: dict[str, Kind]) -> None:
    """`body` has every field of `model`, each of its kind."""
    assert model.keys() <= body.keys(), f"missing {sorted(model.keys() - body.keys())}"
    for name, kind in model.items():
        kinds = kind if isinstance(kind, tuple) else (kind,)
        assert any(_is(body[name], one) for one in kinds), f"{name}={body[name]!r} is not {kind}"


def _is(value: Any, kind: type | str | None) -> bool:
    if kind is None:
        return value is None
    if kind == UUID:
        return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    if kind == DATETIME:
        return isinstance(value, str) and isinstance(datetime.fromisoformat(value), datetime)
    if kind == FLOAT:  # a JSON number; 0.0 may well be written 0
        return isinstance(value, int | float) and not isinstance(value, bool)
    assert isinstance(kind, type)
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


async def me(client: httpx.AsyncClient, person: Athlete) -> dict[str, Any]:
    response = await client.get(f"{API}/users/me", headers=person.headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- 4.1 Auth ----------------------------------------------------------------------------


async def test_register_login_refresh_and_logout_as_4_1_lists_them(fitness: httpx.AsyncClient) -> None:
    # 4.1 "POST /auth/register 帳號註冊 (僅限 Email/Password)". "Email/Password only" is read as
    # the way of signing up (SSO has its own path); 3.2's User requires `display_name: str`
    # (no default), so a client sends it too.
    registered = await fitness.post(
        f"{API}/auth/register",
        json={"email": "rower@example.com", "password": "correct-horse-battery", "display_name": "Rower"},
    )
    assert registered.status_code == 201, registered.text
    user = registered.json()["user"]
    assert_fits(user, USER)
    assert user["email"] == "rower@example.com" and user["display_name"] == "Rower"
    # 3.2's defaults: `avatar_url: Optional[str] = None`, `gender: str = Field(default="o")`,
    # `height_cm`/`weight_kg` None, `is_active: bool = True`.
    assert (user["avatar_url"], user["gender"], user["height_cm"], user["weight_kg"]) == (
        None,
        "o",
        None,
        None,
    )
    assert user["is_active"] is True
    assert "hashed_password" not in user and "password" not in user

    # 4.1 "POST /auth/login 帳號登入 (回傳 JWT)": the access token is a JWT (three base64url parts).
    login = await fitness.post(
        f"{API}/auth/login", json={"email": "rower@example.com", "password": "correct-horse-battery"}
    )
    assert login.status_code == 200, login.text
    tokens = login.json()
    assert len(tokens["access_token"].split(".")) == 3 and isinstance(tokens["refresh_token"], str)
    signed_in = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await fitness.get(f"{API}/users/me", headers=signed_in)).status_code == 200

    # 4.1 "POST /auth/refresh 刷新 Access Token".
    refreshed = await fitness.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert len(fresh["access_token"].split(".")) == 3
    again = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert (await fitness.get(f"{API}/users/me", headers=again)).status_code == 200

    # 4.1 "POST /auth/logout 登出 (撤銷 Refresh Token)": the refresh token no longer refreshes.
    logout = await fitness.post(f"{API}/auth/logout", json={"refresh_token": fresh["refresh_token"]})
    assert logout.status_code in (200, 204), logout.text
    dead = await fitness.post(f"{API}/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert dead.status_code == 401 and "detail" in dead.json()


async def test_password_reset_takes_an_email_then_the_code(fitness: httpx.AsyncClient) -> None:
    person = await builders.athlete(fitness)
    # 4.1 "POST /auth/password/request-reset 忘記密碼 (寄送驗證碼/信件)". The document names no
    # field: the email is what identifies the account.
    requested = await fitness.post(f"{API}/auth/password/request-reset", json={"email": person.email})
    assert requested.status_code in (200, 202), requested.text
    # 4.1 "POST /auth/password/reset 重設密碼 (帶入驗證碼)": the email, the code and the new
    # password (the document names none of the three; keel's names). A code that was never
    # sent is refused with a reason.
    refused = await fitness.post(
        f"{API}/auth/password/reset",
        json={"email": person.email, "code": "000000", "new_password": "another-horse-battery"},
    )
    assert refused.status_code == 400 and isinstance(refused.json()["detail"], str)
    assert (await builders.login(fitness, person.email)).status_code == 200


async def test_sso_takes_exactly_the_three_providers_4_1_names(fitness: httpx.AsyncClient) -> None:
    # 4.1 "POST /auth/sso/{provider} SSO 登入 (provider = apple/google/facebook)". This server
    # has no provider configured, so each answers that it is not available (not that the path
    # is unknown); any other provider is not a valid path parameter.
    for provider in ("apple", "google", "facebook"):
        answer = await fitness.post(f"{API}/auth/sso/{provider}", json={"id_token": "x", "access_token": "x"})
        assert answer.status_code == 404, answer.text
        assert "not available" in answer.json()["detail"]
    assert (await fitness.post(f"{API}/auth/sso/twitter", json={"id_token": "x"})).status_code == 422


# --- 4.2 User ----------------------------------------------------------------------------


async def test_the_profile_is_the_user_with_its_user_stat(fitness: httpx.AsyncClient) -> None:
    person = await builders.athlete(fitness)
    # 4.2 "GET /users/me 取得個人資料 (含 UserStat)".
    profile = await me(fitness, person)
    assert_fits(profile, USER)
    assert "hashed_password" not in profile
    assert_fits(profile["stats"], USER_STAT)
    # 3.2 UserStat's defaults: 0.0, 0, 0.0, 0, 1, 0, None.
    assert profile["stats"] == {
        "total_distance_km": 0.0,
        "total_duration_seconds": 0,
        "total_calories": 0.0,
        "total_xp": 0,
        "current_level": 1,
        "workout_streak_days": 0,
        "last_workout_date": None,
    }


async def test_patch_me_changes_height_weight_nickname_and_gender(fitness: httpx.AsyncClient) -> None:
    person = await builders.athlete(fitness)
    # 4.2 "PATCH /users/me 更新身高、體重、暱稱、性別", by 3.2 User's names (暱稱 is
    # `display_name`; gender one of `# m, f, o`).
    changes = {"height_cm": 178.5, "weight_kg": 72.3, "display_name": "小明", "gender": "m"}
    patched = await fitness.patch(f"{API}/users/me", json=changes, headers=person.headers)
    assert patched.status_code == 200, patched.text
    assert_fits(patched.json(), USER)
    assert {key: patched.json()[key] for key in changes} == changes
    assert {key: (await me(fitness, person))[key] for key in changes} == changes
    bad = await fitness.patch(f"{API}/users/me", json={"gender": "x"}, headers=person.headers)
    assert bad.status_code == 422 and "detail" in bad.json()


async def test_patch_stats_overwrites_the_server_with_the_apps_totals(fitness: httpx.AsyncClient) -> None:
    person = await builders.athlete(fitness)
    # 4.2 "PATCH /users/me/stats 同步累計數據 (強制以 APP 端的累計里程/XP/等級覆蓋伺服器)":
    # distance, XP and level, by 3.2 UserStat's names.
    totals = {"total_distance_km": 1234.5, "total_xp": 98765, "current_level": 42}
    patched = await fitness.patch(f"{API}/users/me/stats", json=totals, headers=person.headers)
    assert patched.status_code == 200, patched.text
    stats = (await me(fitness, person))["stats"]
    assert_fits(stats, USER_STAT)
    assert {key: stats[key] for key in totals} == totals


async def test_the_avatar_upload_sets_avatar_url(fitness: httpx.AsyncClient) -> None:
    person = await builders.athlete(fitness)
    # 4.2 "POST /users/me/avatar 上傳大頭貼": an image upload; the document names no form field
    # (keel's is `file`); 3.2 User's `avatar_url` then points at it.
    uploaded = await fitness.post(
        f"{API}/users/me/avatar", files={"file": ("me.png", png(), "image/png")}, headers=person.headers
    )
    assert uploaded.status_code == 200, uploaded.text
    url = (await me(fitness, person))["avatar_url"]
    assert isinstance(url, str) and url == uploaded.json()["avatar_url"]
    served = await fitness.get(url)
    assert served.status_code == 200 and served.content.startswith(b"\x89PNG")


# --- 4.3 Training (repeated in 4.4) ------------------------------------------------------


async def test_courses_are_listed_by_device_type_in_pages_with_their_script(
    fitness: httpx.AsyncClient, fitness_database: Database
) -> None:
    # Courses come from the back office (1.1 "課程發佈中心"), which 4 does not list: created here
    # by keel's admin endpoint, with 3.2 Training's fields.
    admin = await builders.athlete(fitness, fitness_database, admin=True)
    course = await fitness.post(f"{API}/trainings", json=TRAINING_BODY, headers=admin.headers)
    assert course.status_code == 201, course.text
    treadmill_only = TRAINING_BODY | {"title": "Hill walk", "supported_devices": ["treadmill"]}
    hill = await fitness.post(f"{API}/trainings", json=treadmill_only, headers=admin.headers)
    assert hill.status_code == 201, hill.text

    # 4.3 "GET /trainings 取得課程列表 (支援設備篩選、分頁)", 4.4 "(支援 device_type 篩選)".
    # The document names no paging parameters (keel's `page` and `limit`).
    listed = await fitness.get(f"{API}/trainings", params={"device_type": "rower", "page": 1, "limit": 10})
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    # 4.3 sets the list ("列表") apart from one course's settings ("詳細設定"): an item is read as
    # every field of 3.2 Training but the script.
    assert_fits(item, {key: kind for key, kind in TRAINING.items() if key != "settings"})
    assert item["title"] == "Morning intervals" and item["supported_devices"] == ["bike", "rower"]
    assert listed.json()["total"] == 1
    treadmills = await fitness.get(f"{API}/trainings", params={"device_type": "treadmill"})
    assert [course["title"] for course in treadmills.json()["items"]] == ["Hill walk"]

    # 4.3 "GET /trainings/{id} 取得單一課程詳細設定", 4.4 "取得單一課程 JSONB 腳本".
    detail = await fitness.get(f"{API}/trainings/{item['id']}")
    assert detail.status_code == 200, detail.text
    assert_fits(detail.json(), TRAINING)
    assert {key: detail.json()[key] for key in TRAINING_BODY} == TRAINING_BODY
    assert (await fitness.get(f"{API}/trainings/999999")).status_code == 404


# --- 2.1 the sequence diagram, 4.4 Session -----------------------------------------------


async def test_the_sequence_diagram_201_for_a_new_record_200_when_it_exists(
    fitness: httpx.AsyncClient,
) -> None:
    person = await builders.athlete(fitness)
    # 2.1: "APP->>APP: 生成 client_session_uuid (UUIDv4)" and "API->>DB: 檢查 client_session_uuid
    # 是否存在?": the diagram's name for 3.2's `client_session_id`; a client written from the
    # diagram sends it so. "loop 每一筆未上傳紀錄 / POST /api/v1/sessions/batch_upload / Header:
    # X-Idempotency-Key": one call per record. The document gives the batch no envelope (an
    # ambiguity): keel's `{"sessions": [...]}` is read as the reasonable one.
    record = {key: value for key, value in ROWER_SESSION.items() if key != "client_session_id"}
    record["client_session_uuid"] = ROWER_SESSION["client_session_id"]
    first_key = {"X-Idempotency-Key": "0f8c2a8e-1111-4b1e-9a55-2d8f8a0c1a01"} | person.headers

    # "else 數據不存在 (新紀錄) ... API-->>APP: 201 Created".
    created = await fitness.post(
        f"{API}/sessions/batch_upload", json={"sessions": [record]}, headers=first_key
    )
    assert created.status_code == 201, created.text
    [result] = created.json()["results"]
    assert result["status"] == "created" and result["client_session_id"] == record["client_session_uuid"]

    # "API->>API: 觸發背景任務 (更新用戶累計數據)": the totals count the session.
    stats = (await me(fitness, person))["stats"]
    assert stats["total_distance_km"] == 6.0 and stats["total_duration_seconds"] == 1800
    assert stats["total_calories"] == 312.5 and stats["total_xp"] == 120
    assert stats["last_workout_date"] is not None and stats["workout_streak_days"] == 1

    # The same call again (the phone never saw the answer): the first answer again.
    retried = await fitness.post(
        f"{API}/sessions/batch_upload", json={"sessions": [record]}, headers=first_key
    )
    assert (retried.status_code, retried.json()) == (201, created.json())

    # "alt 數據已存在 (重複上傳) ... API-->>APP: 200 OK (忽略寫入)": a new call for the same
    # record, even one whose numbers the phone changed since, writes nothing.
    second_key = {"X-Idempotency-Key": "0f8c2a8e-2222-4b1e-9a55-2d8f8a0c1a02"} | person.headers
    changed = record | {"total_calories": 999.0}
    again = await fitness.post(
        f"{API}/sessions/batch_upload", json={"sessions": [changed]}, headers=second_key
    )
    assert again.status_code == 200, again.text
    assert again.json()["results"][0]["status"] == "duplicate"
    assert (await me(fitness, person))["stats"] == stats

    # The record is stored under the id the phone made.
    stored = await fitness.get(f"{API}/sessions/{record['client_session_uuid']}", headers=person.headers)
    assert stored.status_code == 200 and stored.json()["id"] == result["id"]
    assert stored.json()["total_calories"] == 312.5


async def test_one_session_uploaded_listed_read_with_its_curve_and_deleted(
    fitness: httpx.AsyncClient,
) -> None:
    person = await builders.athlete(fitness)
    # 4.4 "POST /sessions 單筆運動紀錄上傳", 3.2 WorkoutSession's fields; 201 new, 200 when it
    # exists, as 2.1 answers the batch.
    uploaded = await fitness.post(f"{API}/sessions", json=ROWER_SESSION, headers=person.headers)
    assert uploaded.status_code == 201, uploaded.text
    assert_fits(uploaded.json(), WORKOUT_SESSION_ITEM)
    repeated = await fitness.post(f"{API}/sessions", json=ROWER_SESSION, headers=person.headers)
    assert repeated.status_code == 200 and repeated.json()["id"] == uploaded.json()["id"]

    # 4.4 "GET /sessions 取得歷史運動列表".
    history = await fitness.get(f"{API}/sessions", headers=person.headers)
    assert history.status_code == 200, history.text
    [item] = history.json()["items"]
    assert_fits(item, WORKOUT_SESSION_ITEM)
    sent = {
        key: value
        for key, value in ROWER_SESSION.items()
        if key not in ("time_series_data", "start_time", "end_time")
    }
    assert {key: item[key] for key in sent} == sent
    assert datetime.fromisoformat(item["start_time"]) == datetime.fromisoformat(ROWER_SESSION["start_time"])
    assert datetime.fromisoformat(item["end_time"]) == datetime.fromisoformat(ROWER_SESSION["end_time"])
    assert item["user_id"] == person.id

    # 4.4 "GET /sessions/{id} 取得運動詳情 (含曲線圖數據)": the points as the phone sent them.
    detail = await fitness.get(f"{API}/sessions/{item['id']}", headers=person.headers)
    assert detail.status_code == 200, detail.text
    assert_fits(detail.json(), WORKOUT_SESSION)
    assert detail.json()["time_series_data"] == ROWER_SESSION["time_series_data"]
    assert detail.json()["metrics_summary"] == ROWER_SESSION["metrics_summary"]

    # 4.4 "DELETE /sessions/{id} 刪除運動紀錄": gone, and out of the totals.
    deleted = await fitness.delete(f"{API}/sessions/{item['id']}", headers=person.headers)
    assert deleted.status_code in (200, 204), deleted.text
    assert (await fitness.get(f"{API}/sessions/{item['id']}", headers=person.headers)).status_code == 404
    assert (await fitness.get(f"{API}/sessions", headers=person.headers)).json()["items"] == []
    assert (await me(fitness, person))["stats"]["total_distance_km"] == 0.0


async def test_a_session_with_only_the_fields_3_2_requires_gets_its_defaults(
    fitness: httpx.AsyncClient,
) -> None:
    person = await builders.athlete(fitness)
    # 3.2 `class WorkoutSession`, only the fields without a default the phone fills (`user_id`
    # is the signed-in user's); the others default: `source_type ... default="free"`,
    # `training_id ... default=None`, `internal_course_name ... = None`, `xp_earned: int = 0`,
    # `metrics_summary ... default={}`, `time_series_data ... default=[]`.
    minimal = {
        "client_session_id": "c3a1e2d4-8b7f-4e6a-9d5c-2f1b0a9e8d70",
        "device_type": "treadmill",
        "start_time": "2025-12-19T18:00:00Z",
        "end_time": "2025-12-19T18:20:00Z",
        "duration_seconds": 1200,
        "total_calories": 150.0,
        "total_distance_meters": 3000.0,
    }
    batch = await fitness.post(
        f"{API}/sessions/batch_upload", json={"sessions": [minimal]}, headers=person.headers
    )
    assert batch.status_code == 201, batch.text
    assert batch.json()["results"][0]["status"] == "created"
    stored = await fitness.get(f"{API}/sessions/{minimal['client_session_id']}", headers=person.headers)
    assert stored.status_code == 200, stored.text
    assert_fits(stored.json(), WORKOUT_SESSION)
    defaults = {
        "source_type": "free",
        "training_id": None,
        "internal_course_name": None,
        "xp_earned": 0,
        "metrics_summary": {},
        "time_series_data": [],
    }
    assert {key: stored.json()[key] for key in defaults} == defaults


async def test_each_source_type_names_its_course_as_3_2_says(
    fitness: httpx.AsyncClient, fitness_database: Database
) -> None:
    admin = await builders.athlete(fitness, fitness_database, admin=True)
    course = (await fitness.post(f"{API}/trainings", json=TRAINING_BODY, headers=admin.headers)).json()
    person = await builders.athlete(fitness)
    # 3.2: `source_type ... # backend, local, free`; `training_id` (a back-office course);
    # `internal_course_name # 若為 APP 內建課程則填寫此名` (filled for a course built into the app).
    backend = ROWER_SESSION | {
        "client_session_id": "5d1f6a0e-7a3b-4a5e-9c1d-0b7e2f3a4c01",
        "source_type": "backend",
        "training_id": course["id"],
    }
    local = ROWER_SESSION | {
        "client_session_id": "5d1f6a0e-7a3b-4a5e-9c1d-0b7e2f3a4c02",
        "source_type": "local",
        "internal_course_name": "Pyramid 500",
        "start_time": "2025-12-20T07:00:00Z",
        "end_time": "2025-12-20T07:30:00Z",
    }
    batch = await fitness.post(
        f"{API}/sessions/batch_upload", json={"sessions": [backend, local]}, headers=person.headers
    )
    assert batch.status_code == 201, batch.text
    assert [r["status"] for r in batch.json()["results"]] == ["created", "created"]
    for sent in (backend, local):
        stored = (
            await fitness.get(f"{API}/sessions/{sent['client_session_id']}", headers=person.headers)
        ).json()
        assert (stored["source_type"], stored["training_id"], stored["internal_course_name"]) == (
            sent["source_type"],
            sent["training_id"],
            sent["internal_course_name"],
        )
    # 4.4's history lists them both; 3.2 indexes `source_type` (keel filters by it).
    only_local = await fitness.get(f"{API}/sessions", params={"source_type": "local"}, headers=person.headers)
    assert [s["client_session_id"] for s in only_local.json()["items"]] == [local["client_session_id"]]


# --- 4.5 Meta, 5 the admin page ----------------------------------------------------------


async def test_meta_schemas_label_every_metric_a_rower_and_a_bike_send(fitness: httpx.AsyncClient) -> None:
    # 4.5 "GET /meta/schemas 取得各器材 (Rower/Bike) 的數據欄位定義 (供 VUE 後台動態渲染)", and 5:
    # the admin page renders `props.row.metrics_summary` key by key, labelled by
    # `formatLabel(props.row.device_type, key)`: the definitions are looked up by device type,
    # then by metric key.
    answer = await fitness.get(f"{API}/meta/schemas")
    assert answer.status_code == 200, answer.text
    schemas = answer.json()["schemas"]
    for device, summary in (
        ("rower", ROWER_SESSION["metrics_summary"]),
        ("bike", {"avg_watts": 180.0, "avg_cadence": 85.0}),
    ):
        labelled = {field["key"]: field["label"] for field in schemas[device]["summary"]}
        assert summary.keys() <= labelled.keys(), device
        assert all(isinstance(labelled[key]["zh"], str) and labelled[key]["zh"] for key in summary)


async def test_app_version_says_whether_an_update_is_forced(
    fitness: httpx.AsyncClient, fitness_database: Database
) -> None:
    # Versions are published from the back office (not in 4): keel's admin endpoint.
    admin = await builders.athlete(fitness, fitness_database, admin=True)
    published = await fitness.put(
        f"{API}/meta/app_version/ios",
        json={
            "latest_version": "3.1.0",
            "min_supported_version": "3.0.0",
            "store_url": "https://apps.apple.com/app/id000",
        },
        headers=admin.headers,
    )
    assert published.status_code == 200, published.text
    # 4.5 "GET /meta/app_version 檢查 APP 是否需要強制更新". The document names no parameter;
    # an app asking whether *it* must update says which app it is (keel's `platform`, required)
    # and its version (`version`).
    old = await fitness.get(f"{API}/meta/app_version", params={"platform": "ios", "version": "2.9.0"})
    assert old.status_code == 200, old.text
    assert old.json()["force_update"] is True
    current = await fitness.get(f"{API}/meta/app_version", params={"platform": "ios", "version": "3.1.0"})
    assert current.json()["force_update"] is False and current.json()["update_available"] is False
