import httpx

from keel.core.db import Database
from keel.server import build_server
from keel.settings import Settings
from tests.apps.badge.builders import PASSWORD, Account, Badge


async def test_login_by_username_or_email_and_wrong_password(
    badge: httpx.AsyncClient, operator: Account
) -> None:
    by_name = await badge.post(
        "/api/v1/auth/login", json={"username": operator.username, "password": PASSWORD}
    )
    by_mail = await badge.post(
        "/api/v1/auth/login", json={"email": operator.email.upper(), "password": PASSWORD}
    )
    assert by_name.status_code == by_mail.status_code == 200
    assert set(by_name.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
    wrong = await badge.post(
        "/api/v1/auth/login", json={"username": operator.username, "password": "nope-nope"}
    )
    unknown = await badge.post("/api/v1/auth/login", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert (await badge.post("/api/v1/auth/login", json={"password": PASSWORD})).status_code == 422


async def test_refresh_and_logout_at_the_specs_paths(badge: httpx.AsyncClient, operator: Account) -> None:
    """Rotation, reuse and logout are the core's (tests/core/test_auth.py); here, the paths."""
    first = await badge.post("/api/v1/auth/refresh", json={"refresh_token": operator.refresh_token})
    assert first.status_code == 200
    assert set(first.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
    me = await badge.get("/api/v1/users/me", headers=operator.headers)
    assert me.status_code == 200 and me.json()["role"] == "user"
    assert (await badge.post("/api/v1/auth/logout", headers=operator.headers)).status_code == 200
    assert (await badge.get("/api/v1/users/me", headers=operator.headers)).status_code == 401
    rotated = first.json()["refresh_token"]
    signed_out = await badge.post("/api/v1/auth/logout", json={"refresh_token": rotated})
    assert (signed_out.status_code, signed_out.json()) == (200, {"message": "Logged out"})
    assert (await badge.post("/api/v1/auth/refresh", json={"refresh_token": rotated})).status_code == 401


async def test_admins_create_users_with_roles_and_others_may_not(
    badge: httpx.AsyncClient, admin: Account, operator: Account
) -> None:
    body = {"username": "viewer1", "email": "viewer1@example.com", "password": PASSWORD, "role": "guest"}
    assert (await badge.post("/api/v1/users", json=body, headers=operator.headers)).status_code == 403
    created = await badge.post("/api/v1/users", json=body, headers=admin.headers)
    assert created.status_code == 201 and created.json()["role"] == "guest"
    assert (await badge.post("/api/v1/users", json=body, headers=admin.headers)).status_code == 409
    assert (
        await badge.post("/api/v1/users", json={**body, "role": "root"}, headers=admin.headers)
    ).status_code == 422
    login = await badge.post("/api/v1/auth/login", json={"username": "viewer1", "password": PASSWORD})
    assert login.status_code == 200
    assert (await badge.get("/api/v1/users", headers=operator.headers)).status_code == 403
    assert len((await badge.get("/api/v1/users", headers=admin.headers)).json()) == 3


async def test_roles_follow_the_permission_map(
    badge: httpx.AsyncClient, admin: Account, guest: Account, operator: Account, device: Badge
) -> None:
    assert (await badge.get("/api/v1/devices")).status_code == 401
    assert (await badge.get("/api/v1/devices", headers=guest.headers)).status_code == 200
    config = {"config_key": "detection_interval", "config_value": "5", "config_type": "integer"}
    target = f"/api/v1/devices/{device.device_id}/config"
    assert (await badge.put(target, json=config, headers=guest.headers)).status_code == 403
    # A user changes the badges bound to them (test_scoped_users.py has the rest).
    assert (await badge.put(target, json=config, headers=operator.headers)).status_code == 404
    bound = await badge.patch(
        f"/api/v1/devices/{device.device_id}", json={"user_id": operator.id}, headers=admin.headers
    )
    assert bound.status_code == 200, bound.text
    assert (await badge.put(target, json=config, headers=operator.headers)).status_code == 200
    module = {"module_name": "m1", "module_type": "vision", "module_version": "1.0.0"}
    assert (await badge.post("/api/v1/modules", json=module, headers=operator.headers)).status_code == 403
    assert (await badge.post("/api/v1/modules", json=module, headers=admin.headers)).status_code == 201
    # A device writes only its own data and never acts as a person.
    assert (await device.request(badge, "PUT", target, config)).status_code == 403
    assert (await device.request(badge, "GET", "/api/v1/users/me")).status_code == 403


async def test_wrong_passwords_are_throttled(
    badge: httpx.AsyncClient, badge_database: Database, settings: Settings, operator: Account
) -> None:
    """The core's login throttle (tests/core/test_auth.py) guards this login: at a tenth of the
    limits, one wrong password per account, then 429 even for the right one."""
    server = build_server(
        settings.model_copy(update={"rate_limit_scale": 0.1}),
        only="badge",
        databases={"badge": badge_database},
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://badge.test"
    ) as client:
        wrong = await client.post(
            "/api/v1/auth/login", json={"username": operator.username, "password": "wrong-password"}
        )
        assert wrong.status_code == 401
        refused = await client.post(
            "/api/v1/auth/login", json={"username": operator.username, "password": PASSWORD}
        )
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Limit"] == "1"
