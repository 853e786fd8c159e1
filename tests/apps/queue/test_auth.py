import httpx
import jwt

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.queue import builders
from tests.apps.queue.builders import PASSWORD, Account


async def test_register_answers_201_with_the_user_and_a_token(queue: httpx.AsyncClient) -> None:
    response = await builders.register(queue, email="Ann@Example.com", name="張小明")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"user", "token", "refresh_token", "expires_in"}
    assert set(body["user"]) == {"id", "email", "name"}
    assert body["user"]["email"] == "ann@example.com"
    assert body["user"]["name"] == "張小明"
    assert body["expires_in"] == 15 * 60
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["aud"] == "queue"
    assert claims["sub"] == body["user"]["id"]
    profile = await queue.get("/users/profile", headers={"Authorization": f"Bearer {body['token']}"})
    assert profile.status_code == 200
    assert profile.json()["id"] == body["user"]["id"]


async def test_register_refuses_a_taken_email_with_400_and_malformed_input_with_422(
    queue: httpx.AsyncClient,
) -> None:
    assert (await builders.register(queue, email="dup@example.com")).status_code == 201
    taken = await builders.register(queue, email="DUP@example.com ")
    assert taken.status_code == 400
    assert taken.json() == {"detail": "Email already registered"}
    for body in (
        {"email": "not-an-email", "password": PASSWORD, "name": "X"},
        {"email": "a@example.com", "password": "short", "name": "X"},
        {"email": "a@example.com", "password": PASSWORD, "name": "  "},
        {"email": "a@example.com", "password": PASSWORD},
    ):
        response = await queue.post("/auth/register", json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], list)


async def test_login_answers_the_user_and_token_404_for_unknown_401_for_wrong_password(
    queue: httpx.AsyncClient, customer: Account
) -> None:
    response = await queue.post("/auth/login", json={"email": customer.email.upper(), "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": customer.id, "email": customer.email, "name": "Customer"}
    assert (
        await queue.get("/users/profile", headers={"Authorization": f"Bearer {body['token']}"})
    ).status_code == 200
    wrong = await queue.post("/auth/login", json={"email": customer.email, "password": "wrong-password"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Incorrect password"}
    unknown = await queue.post("/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "No account with this email"}
    assert (await queue.post("/auth/login", json={"email": "x"})).status_code == 422


async def test_refresh_and_logout_name_the_access_token_token(
    queue: httpx.AsyncClient, customer: Account
) -> None:
    """Rotation and reuse are the core's (tests/core/test_auth.py); here, the spec's field names."""
    first = await queue.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert first.status_code == 200
    assert set(first.json()) == {"token", "refresh_token", "expires_in"}
    headers = {"Authorization": f"Bearer {first.json()['token']}"}
    assert (await queue.get("/users/profile", headers=headers)).status_code == 200
    signed_out = await queue.post("/auth/logout", json={"refresh_token": first.json()["refresh_token"]})
    assert (signed_out.status_code, signed_out.json()) == (200, {"message": "Logged out"})
    assert (
        await queue.post("/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    ).status_code == 401


async def test_no_or_a_bad_token_is_401(queue: httpx.AsyncClient) -> None:
    assert (await queue.get("/users/profile")).status_code == 401
    bad = await queue.get("/users/profile", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    assert bad.json() == {"detail": "Invalid token"}


async def test_wrong_passwords_are_throttled(
    queue: httpx.AsyncClient, queue_database: Database, settings: Settings, customer: Account
) -> None:
    """The core's login throttle (tests/core/test_auth.py) guards this login: at a tenth of the
    limits, one wrong password per account, then 429 even for the right one."""
    server = build_server(
        settings.model_copy(update={"rate_limit_scale": 0.1}),
        only="queue",
        databases={"queue": queue_database},
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://queue.test"
    ) as client:
        wrong = await client.post("/auth/login", json={"email": customer.email, "password": "wrong-password"})
        assert wrong.status_code == 401
        refused = await client.post("/auth/login", json={"email": customer.email, "password": PASSWORD})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Limit"] == "1"
