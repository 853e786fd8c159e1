import httpx
import jwt

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.fitness import builders
from tests.apps.fitness.builders import PASSWORD, Athlete


async def test_register_answers_201_signed_in_with_empty_stats(fitness: httpx.AsyncClient) -> None:
    response = await builders.register(fitness, email="Ann@Example.com", display_name="Ann")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["email"] == "ann@example.com"
    assert body["user"]["display_name"] == "Ann"
    assert body["user"]["gender"] == "o"
    assert body["user"]["stats"]["total_xp"] == 0
    assert body["user"]["stats"]["current_level"] == 1
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["aud"] == "fitness"
    me = await fitness.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["user_uuid"] == body["user"]["user_uuid"]


async def test_register_refuses_a_taken_email_and_malformed_input(fitness: httpx.AsyncClient) -> None:
    assert (await builders.register(fitness, email="dup@example.com")).status_code == 201
    taken = await builders.register(fitness, email="DUP@example.com")
    assert taken.status_code == 409
    assert taken.json() == {"detail": "Email already registered"}
    for body in (
        {"email": "not-an-email", "password": PASSWORD, "display_name": "X"},
        {"email": "a@example.com", "password": "short", "display_name": "X"},
        {"email": "a@example.com", "password": PASSWORD, "display_name": "  "},
        {"email": "a@example.com", "password": PASSWORD},
    ):
        response = await fitness.post("/api/v1/auth/register", json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], list)


async def test_login_answers_both_tokens(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    response = await builders.login(fitness, athlete.email.upper())
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
    wrong = await builders.login(fitness, athlete.email, "wrong-password")
    unknown = await builders.login(fitness, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_refresh_answers_a_new_pair(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    """Rotation and reuse are the core's (tests/core/test_auth.py); here, the path and body."""
    first = await fitness.post("/api/v1/auth/refresh", json={"refresh_token": athlete.refresh_token})
    assert first.status_code == 200
    assert set(first.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}


async def test_logout_revokes_the_access_token_and_the_refresh_family(
    fitness: httpx.AsyncClient, athlete: Athlete
) -> None:
    response = await fitness.post(
        "/api/v1/auth/logout", json={"refresh_token": athlete.refresh_token}, headers=athlete.headers
    )
    assert response.status_code == 200
    assert (await fitness.get("/api/v1/users/me", headers=athlete.headers)).status_code == 401
    assert (
        await fitness.post("/api/v1/auth/refresh", json={"refresh_token": athlete.refresh_token})
    ).status_code == 401


async def test_a_token_of_another_app_is_refused(
    fitness: httpx.AsyncClient, settings, athlete: Athlete
) -> None:
    claims = jwt.decode(athlete.access_token, options={"verify_signature": False})
    shop_token = jwt.encode({**claims, "aud": "shop"}, settings.secret_key, algorithm="HS256")
    response = await fitness.get("/api/v1/users/me", headers={"Authorization": f"Bearer {shop_token}"})
    assert response.status_code == 401


async def test_wrong_passwords_are_throttled(
    fitness: httpx.AsyncClient, fitness_database: Database, settings: Settings, athlete: Athlete
) -> None:
    """The core's login throttle (tests/core/test_auth.py) guards this login: at a tenth of the
    limits, one wrong password per account, then 429 even for the right one."""
    server = build_server(
        settings.model_copy(update={"rate_limit_scale": 0.1}),
        only="fitness",
        databases={"fitness": fitness_database},
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://fitness.test"
    ) as client:
        wrong = await client.post(
            "/api/v1/auth/login", json={"email": athlete.email, "password": "wrong-password"}
        )
        assert wrong.status_code == 401
        refused = await client.post("/api/v1/auth/login", json={"email": athlete.email, "password": PASSWORD})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Limit"] == "1"
