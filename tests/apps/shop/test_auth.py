from datetime import UTC, datetime, timedelta

import httpx
import jwt

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.shop import builders
from tests.apps.shop.builders import PASSWORD, Account


async def test_register_answers_201_with_the_user_and_a_message(shop: httpx.AsyncClient) -> None:
    response = await builders.register(shop, username="mei", email="Mei@Example.com")
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "mei"
    assert body["email"] == "mei@example.com"
    assert body["user"] == {
        "id": body["id"],
        "username": "mei",
        "email": "mei@example.com",
        "is_admin": False,
    }
    assert body["message"]
    assert "password" not in response.text and "hashed" not in response.text


async def test_register_refuses_a_taken_email_or_username_with_409(shop: httpx.AsyncClient) -> None:
    assert (await builders.register(shop, username="taken", email="taken@example.com")).status_code == 201
    same_email = await builders.register(shop, email="TAKEN@example.com")
    assert same_email.status_code == 409
    assert "Email" in same_email.json()["detail"]
    same_name = await builders.register(shop, username="Taken")
    assert same_name.status_code == 409
    assert "Username" in same_name.json()["detail"]


async def test_register_refuses_malformed_input_with_fastapis_422_list(shop: httpx.AsyncClient) -> None:
    for body in (
        {"username": "ok_name", "email": "not-an-email", "password": PASSWORD},
        {"username": "ok_name", "email": "a@example.com", "password": "short"},
        {"username": "no spaces!", "email": "a@example.com", "password": PASSWORD},
        {"email": "a@example.com", "password": PASSWORD},
    ):
        response = await shop.post("/api/auth/register", json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], list)
        assert response.json()["detail"][0]["loc"][0] == "body"


async def test_login_answers_token_user_and_message(shop: httpx.AsyncClient) -> None:
    await builders.register(shop, username="lee", email="lee@example.com")
    response = await builders.login(shop, "LEE@example.com")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["email"] == "lee@example.com"
    assert body["message"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "shop"
    assert {"sub", "exp", "iat", "jti"} <= claims.keys()
    me = await shop.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "lee"


async def test_login_with_a_wrong_password_or_unknown_email_is_the_same_401(shop: httpx.AsyncClient) -> None:
    await builders.register(shop, email="known@example.com")
    wrong = await builders.login(shop, "known@example.com", "not-the-password")
    unknown = await builders.login(shop, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_me_needs_a_valid_token(shop: httpx.AsyncClient, settings, buyer: Account) -> None:
    assert (await shop.get("/api/auth/me")).status_code == 401
    garbage = await shop.get("/api/auth/me", headers={"Authorization": "Bearer not.a.token"})
    assert garbage.status_code == 401
    assert garbage.headers["www-authenticate"] == "Bearer"
    now = datetime.now(UTC)
    base = {"sub": str(buyer.id), "iat": now, "jti": "x" * 32, "typ": "access"}
    forged = {
        # A token for another app (same secret, other audience) is refused here.
        "other audience": jwt.encode(
            {**base, "aud": "queue", "exp": now + timedelta(minutes=5)}, settings.secret_key
        ),
        "expired": jwt.encode(
            {**base, "aud": "shop", "exp": now - timedelta(seconds=1)}, settings.secret_key
        ),
        "wrong key": jwt.encode({**base, "aud": "shop", "exp": now + timedelta(minutes=5)}, "k" * 48),
        "alg none": jwt.encode(
            {**base, "aud": "shop", "exp": now + timedelta(minutes=5)}, None, algorithm="none"
        ),
    }
    for name, token in forged.items():
        response = await shop.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name


async def test_logout_revokes_the_access_token_and_the_refresh_family(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    response = await shop.post(
        "/api/auth/logout", headers=buyer.headers, json={"refresh_token": buyer.refresh_token}
    )
    assert response.status_code == 200
    assert response.json()["message"]
    assert (await shop.get("/api/auth/me", headers=buyer.headers)).status_code == 401
    refreshed = await shop.post("/api/auth/refresh", json={"refresh_token": buyer.refresh_token})
    assert refreshed.status_code == 401


async def test_logout_without_a_body_revokes_only_the_access_token(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    assert (await shop.post("/api/auth/logout", headers=buyer.headers)).status_code == 200
    assert (await shop.get("/api/auth/me", headers=buyer.headers)).status_code == 401
    assert (
        await shop.post("/api/auth/refresh", json={"refresh_token": buyer.refresh_token})
    ).status_code == 200


async def test_refresh_answers_the_token_with_the_user_and_a_message(
    shop: httpx.AsyncClient, buyer: Account
) -> None:
    """Rotation and reuse are the core's (tests/core/test_auth.py); here, the spec's Token."""
    first = await shop.post("/api/auth/refresh", json={"refresh_token": buyer.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != buyer.refresh_token
    assert (rotated["user"]["email"], rotated["message"]) == (buyer.email, "Token refreshed")
    assert (
        await shop.get("/api/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    ).status_code == 200


async def test_refresh_with_an_unknown_token_is_401(shop: httpx.AsyncClient) -> None:
    response = await shop.post("/api/auth/refresh", json={"refresh_token": "made-up"})
    assert response.status_code == 401


async def test_wrong_passwords_are_throttled(
    shop: httpx.AsyncClient, shop_database: Database, settings: Settings, buyer: Account
) -> None:
    """The core's login throttle (tests/core/test_auth.py) guards this login: at a tenth of the
    limits, one wrong password per account, then 429 even for the right one."""
    server = build_server(
        settings.model_copy(update={"rate_limit_scale": 0.1}), only="shop", databases={"shop": shop_database}
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://shop.test"
    ) as client:
        wrong = await client.post(
            "/api/auth/login", json={"email": buyer.email, "password": "wrong-password"}
        )
        assert wrong.status_code == 401
        refused = await client.post("/api/auth/login", json={"email": buyer.email, "password": PASSWORD})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Limit"] == "1"
