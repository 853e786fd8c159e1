import httpx
from sqlalchemy import select

from keel.apps.coach.models import AuditLog, DayLog, Workout
from keel.core.db import Database
from tests.apps.coach import builders
from tests.apps.coach.builders import Member


async def _audit(database: Database, user_id: int) -> list[tuple[str, str]]:
    async with database.sessionmaker() as session:
        rows = await session.execute(
            select(AuditLog.action, AuditLog.target).where(AuditLog.user_id == user_id).order_by(AuditLog.id)
        )
        return [tuple(row) for row in rows]


async def test_export_returns_all_the_users_data_and_is_audited(
    coach: httpx.AsyncClient, member: Member, coach_database: Database
) -> None:
    workout = await builders.record(coach, member, "workout")
    await builders.record(coach, member, "reading")
    await coach.put("/api/v1/settings/targets", json={"calories": 1800}, headers=member.headers)
    other = await builders.member(coach)
    await builders.record(coach, other, "meal")

    response = await coach.get("/api/v1/me/export", headers=member.headers)
    assert response.status_code == 200
    data = response.json()
    assert data["user"]["email"] == member.email
    assert "hashed_password" not in data["user"]
    assert [r["id"] for r in data["records"]["workout"]] == [workout["id"]]
    assert len(data["records"]["reading"]) == 1
    assert data["records"]["meal"] == []
    assert data["targets"][0]["calories"] == 1800
    assert [d["date"] for d in data["day_logs"]] == [builders.DAY]
    assert len(data["sessions"]) == 1
    assert await _audit(coach_database, member.id) == [("account.export", f"user:{member.id}")]


async def test_deleting_a_record_is_audited(coach, member: Member, coach_database: Database) -> None:
    record = await builders.record(coach, member, "sleep")
    await coach.delete(f"/api/v1/records/sleep/{record['id']}", headers=member.headers)
    assert await _audit(coach_database, member.id) == [("record.delete", f"sleep:{record['id']}")]


async def test_erasing_the_account_needs_a_confirmation(
    coach, member: Member, coach_database: Database
) -> None:
    await builders.record(coach, member, "workout")
    unconfirmed = await coach.request(
        "DELETE", "/api/v1/me", json={"confirmation_token": "nope"}, headers=member.headers
    )
    assert unconfirmed.status_code == 422
    assert (await coach.request("DELETE", "/api/v1/me", json={}, headers=member.headers)).status_code == 422
    other = await builders.member(coach)
    theirs = (await coach.post("/api/v1/me/deletion", headers=other.headers)).json()["confirmation_token"]
    stolen = await coach.request(
        "DELETE", "/api/v1/me", json={"confirmation_token": theirs}, headers=member.headers
    )
    assert stolen.status_code == 422
    assert (await coach.get("/api/v1/me", headers=member.headers)).status_code == 200

    asked = await coach.post("/api/v1/me/deletion", headers=member.headers)
    assert asked.status_code == 200
    token = asked.json()["confirmation_token"]
    erased = await coach.request(
        "DELETE", "/api/v1/me", json={"confirmation_token": token}, headers=member.headers
    )
    assert erased.status_code == 204
    assert (await coach.get("/api/v1/me", headers=member.headers)).status_code == 401
    login = await coach.post(
        "/api/v1/auth/login", json={"email": member.email, "password": builders.PASSWORD}
    )
    assert login.status_code == 401
    async with coach_database.sessionmaker() as session:
        assert (await session.execute(select(Workout).where(Workout.user_id == member.id))).first() is None
        assert (await session.execute(select(DayLog).where(DayLog.user_id == member.id))).first() is None
    assert await _audit(coach_database, member.id) == [("account.delete", f"user:{member.id}")]
    assert (await coach.get("/api/v1/me", headers=other.headers)).status_code == 200
