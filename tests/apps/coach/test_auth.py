import jwt

from tests.apps.coach import builders
from tests.apps.coach.builders import PASSWORD, Member


async def test_register_by_email_records_the_policy_and_signs_in(coach) -> None:
    response = await builders.register(coach, email="Ann@Example.com", privacy_policy_version="v7")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert body["user"]["email"] == "ann@example.com"
    assert body["user"]["privacy_policy_version"] == "v7"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "coach"
    assert claims["exp"] - claims["iat"] == 30 * 60
    me = await coach.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]


async def test_register_and_login_by_phone(coach) -> None:
    response = await builders.register(coach, email=None, phone="+86 138-0013-8000")
    assert response.status_code == 201, response.text
    assert response.json()["user"]["phone"] == "+8613800138000"
    login = await coach.post("/api/v1/auth/login", json={"phone": "+8613800138000", "password": PASSWORD})
    assert login.status_code == 200
    assert {"access_token", "refresh_token", "token_type"} <= set(login.json())


async def test_register_refuses_duplicates_and_bad_input_with_codes(coach) -> None:
    assert (await builders.register(coach, email="dup@example.com")).status_code == 201
    taken = await builders.register(coach, email="DUP@example.com")
    assert taken.status_code == 409
    assert taken.json() == {"detail": "Email already registered", "code": "conflict"}
    for overrides in (
        {"email": None},  # neither email nor phone
        {"phone": "12ab"},
        {"password": "short"},
        {"privacy_policy_version": ""},
        {"timezone": "Mars/Olympus"},
    ):
        response = await builders.register(coach, **overrides)
        assert response.status_code == 422, overrides
        assert response.json()["code"] == "validation_error"
        assert isinstance(response.json()["detail"], list)


async def test_login_answers_the_same_for_a_wrong_password_and_an_unknown_account(
    coach, member: Member
) -> None:
    wrong = await coach.post("/api/v1/auth/login", json={"email": member.email, "password": "nope-nope"})
    unknown = await coach.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect login or password", "code": "unauthorized"}
    both = await coach.post(
        "/api/v1/auth/login", json={"email": member.email, "phone": "+123456789", "password": PASSWORD}
    )
    assert both.status_code == 422


async def test_refresh_token_lives_seven_days(coach, member: Member, coach_database) -> None:
    from sqlalchemy import select

    from keel.apps.coach.models import RefreshToken

    async with coach_database.sessionmaker() as session:
        token = (
            await session.execute(select(RefreshToken).where(RefreshToken.user_id == member.id))
        ).scalar_one()
    assert round((token.expires_at - token.created_at).total_seconds()) == 7 * 86400
    first = await coach.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert first.status_code == 200
    assert set(first.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}


async def test_sessions_list_devices_and_one_can_be_signed_out(coach, member: Member) -> None:
    phone = await coach.post(
        "/api/v1/auth/login", json={"email": member.email, "password": PASSWORD, "device": "Pixel 9"}
    )
    phone_headers = {"Authorization": f"Bearer {phone.json()['access_token']}"}
    listed = await coach.get("/api/v1/me/sessions", headers=member.headers)
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1
    pixel = next(s for s in sessions if s["device"] == "Pixel 9")
    assert not pixel["current"]

    assert (
        await coach.delete(f"/api/v1/me/sessions/{pixel['id']}", headers=member.headers)
    ).status_code == 204
    assert (await coach.get("/api/v1/me", headers=phone_headers)).status_code == 401
    refreshed = await coach.post(
        "/api/v1/auth/refresh", json={"refresh_token": phone.json()["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert (await coach.get("/api/v1/me", headers=member.headers)).status_code == 200
    assert len((await coach.get("/api/v1/me/sessions", headers=member.headers)).json()) == 1
    again = await coach.delete(f"/api/v1/me/sessions/{pixel['id']}", headers=member.headers)
    assert again.status_code == 404


async def test_another_users_session_is_not_found(coach, member: Member) -> None:
    other = await builders.member(coach)
    theirs = (await coach.get("/api/v1/me/sessions", headers=other.headers)).json()[0]["id"]
    assert (await coach.delete(f"/api/v1/me/sessions/{theirs}", headers=member.headers)).status_code == 404
    assert (await coach.get("/api/v1/me", headers=other.headers)).status_code == 200


async def test_logout_signs_this_device_out(coach, member: Member) -> None:
    response = await coach.post("/api/v1/auth/logout", headers=member.headers)
    assert response.status_code == 200
    assert (await coach.get("/api/v1/me", headers=member.headers)).status_code == 401
    refreshed = await coach.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert refreshed.status_code == 401


async def test_profile_time_zone_is_validated(coach, member: Member) -> None:
    bad = await coach.patch("/api/v1/me", json={"timezone": "Nowhere/Land"}, headers=member.headers)
    assert bad.status_code == 422
    good = await coach.patch("/api/v1/me", json={"timezone": "Asia/Shanghai"}, headers=member.headers)
    assert good.status_code == 200
    assert good.json()["timezone"] == "Asia/Shanghai"
    assert (await coach.get("/api/v1/me")).status_code == 401
