"""The core's auth surface, through HTTP on every dialect, on a minimal app built here from the
core's own pieces (its tables on the core's mixins, its login on `Authenticator.sign_in` and
`throttle_login`, refresh and logout from `add_token_routes`): rotation, the reuse grace
window, reuse detection revoking the login, logout by refresh token alone, login throttling."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import String, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keel.core.app import KeelApp
from keel.core.db import Database, DbSession, TransactionalRoute
from keel.core.errors import Unauthorized
from keel.core.models import TableBase
from keel.core.ratelimit import throttle_login
from keel.core.security.auth import Authenticator, UserRow
from keel.core.security.models import RefreshTokenMixin, RevokedTokenMixin, SessionMixin
from keel.core.security.routes import add_token_routes
from keel.core.security.tokens import TokenService
from keel.settings import Settings
from tests.databases import REDIS_URL, drop_database, empty_tables, fresh_database, require_service

PASSWORD = "the-right-password"
EMAIL = "ada@example.com"


class Base(TableBase, DeclarativeBase):
    """The test app's tables."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)


class RefreshToken(RefreshTokenMixin, Base):
    pass


class RevokedToken(RevokedTokenMixin, Base):
    pass


class Session(SessionMixin, Base):
    pass


auth = Authenticator(
    user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken, session_model=Session
)
router = APIRouter(prefix="/auth", tags=["auth"], route_class=TransactionalRoute)


class Login(BaseModel):
    email: str
    password: str


@router.post("/login")
async def login(data: Login, request: Request, response: Response, session: DbSession) -> dict[str, Any]:
    await throttle_login(request, data.email, response)
    # Passwords are not what this app tests: one account, one fixed password.
    if data.email != EMAIL or data.password != PASSWORD:
        raise Unauthorized("Incorrect email or password")
    return asdict(await auth.sign_in(request, session, 1))


@router.get("/me")
async def me(request: Request, user: Annotated[UserRow, Depends(auth.current_user)]) -> dict[str, Any]:
    return {"id": user.id, "sid": request.state.access_claims.extra["sid"]}


add_token_routes(router, auth)

tiny = KeelApp(
    slug="authtest",
    title="auth test",
    description="The core's auth surface alone",
    routers=[router],
    metadata=Base.metadata,
    migrations=Path("unused"),  # its tables come from create_all
)


@pytest.fixture(scope="session")
async def auth_database(dialect: str, data_dir: Path) -> AsyncIterator[Database]:
    url = await fresh_database(dialect, "keel_test_core_auth", data_dir)
    database = Database(url, pool_size=2, max_overflow=8)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()
    await drop_database(dialect, url)


@pytest.fixture
async def make_client(auth_database: Database, settings: Settings) -> AsyncIterator[Any]:
    """`make_client(address=..., **settings)`: a client of the app as built with those settings."""
    async with auth_database.engine.begin() as connection:
        await connection.execute(insert(User).values(id=1, email=EMAIL))
    clients: list[httpx.AsyncClient] = []

    def make(address: str = "127.0.0.1", **changes: Any) -> httpx.AsyncClient:
        api = tiny.build(settings.model_copy(update=changes), auth_database)
        transport = httpx.ASGITransport(app=api, client=(address, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://authtest.test"))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()
    await empty_tables(auth_database, Base.metadata)


async def _login(client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def _pair(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await _login(client)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refresh_token": refresh_token})


async def _me(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.get("/auth/me", headers={"Authorization": f"Bearer {access_token}"})


async def test_refresh_rotates_within_one_login(make_client) -> None:
    client = make_client()
    first = await _pair(client)
    answer = await _refresh(client, first["refresh_token"])
    assert answer.status_code == 200, answer.text
    second = answer.json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["refresh_token"] != first["refresh_token"]
    before, after = (
        (await _me(client, first["access_token"])).json(),
        (await _me(client, second["access_token"])).json(),
    )
    assert before == after  # the same user, and the same session (refresh family)
    assert (await _refresh(client, second["refresh_token"])).status_code == 200


async def test_a_retry_within_the_window_answers_a_fresh_pair_of_the_same_login(make_client) -> None:
    client = make_client(refresh_reuse_seconds=10)
    token = (await _pair(client))["refresh_token"]
    first, retried = await _refresh(client, token), await _refresh(client, token)
    assert (first.status_code, retried.status_code) == (200, 200)
    pairs = [first.json(), retried.json()]
    assert pairs[0]["refresh_token"] != pairs[1]["refresh_token"]
    sessions = {(await _me(client, pair["access_token"])).json()["sid"] for pair in pairs}
    assert len(sessions) == 1
    # Both answers keep the login going: the client may have kept either.
    for pair in pairs:
        assert (await _refresh(client, pair["refresh_token"])).status_code == 200


async def test_two_refreshes_at_once_both_answer(make_client) -> None:
    client = make_client(refresh_reuse_seconds=10)
    token = (await _pair(client))["refresh_token"]
    answers = await asyncio.gather(_refresh(client, token), _refresh(client, token))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    for answer in answers:
        assert (await _refresh(client, answer.json()["refresh_token"])).status_code == 200


async def test_reuse_after_the_window_revokes_the_whole_login(make_client) -> None:
    client = make_client(refresh_reuse_seconds=0)  # every reuse comes after the window
    first = await _pair(client)
    second = (await _refresh(client, first["refresh_token"])).json()
    reused = await _refresh(client, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["detail"] == "Refresh token was already used; please sign in again"
    # The thief's pair and the owner's: the refresh token rotated from it, and its session.
    assert (await _refresh(client, second["refresh_token"])).status_code == 401
    assert (await _me(client, second["access_token"])).status_code == 401
    # Another login of the same user goes on.
    other = await _pair(client)
    assert (await _refresh(client, other["refresh_token"])).status_code == 200


async def test_an_unknown_refresh_token_is_401(make_client) -> None:
    answer = await _refresh(make_client(), "not-a-token")
    assert (answer.status_code, answer.json()["detail"]) == (401, "Invalid refresh token")


async def test_logout_with_the_refresh_token_alone(make_client, settings: Settings) -> None:
    client = make_client()
    pair = await _pair(client)
    # An access token that has run out, as a client back from the background holds.
    expired, _ = TokenService(
        audience="authtest",
        secret=settings.secret_key,
        access_ttl=timedelta(seconds=-1),
        refresh_ttl=timedelta(days=1),
        refresh_reuse=timedelta(0),
    ).issue_access("1")
    answer = await client.post(
        "/auth/logout",
        json={"refresh_token": pair["refresh_token"]},
        headers={"Authorization": f"Bearer {expired}"},
    )
    assert (answer.status_code, answer.json()) == (200, {"message": "Logged out"})
    assert (await _refresh(client, pair["refresh_token"])).status_code == 401
    assert (await _me(client, pair["access_token"])).status_code == 401  # its session ended

    other = await _pair(client)
    answer = await client.post("/auth/logout", json={"refresh_token": other["refresh_token"]})
    assert answer.status_code == 200
    assert (await _refresh(client, other["refresh_token"])).status_code == 401


async def test_logout_with_the_access_token_alone_revokes_it_and_ends_its_session(make_client) -> None:
    client = make_client()
    pair = await _pair(client)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.post("/auth/logout", headers=headers)).status_code == 200
    assert (await _me(client, pair["access_token"])).json()["detail"] == "Token has been revoked"
    assert (await _refresh(client, pair["refresh_token"])).status_code == 401
    # Signed out already: nothing valid is left to sign out with.
    assert (await client.post("/auth/logout", headers=headers)).status_code == 401


async def test_logout_with_nothing_valid_is_401(make_client) -> None:
    client = make_client()
    nothing = await client.post("/auth/logout")
    assert (nothing.status_code, nothing.json()["detail"]) == (401, "Not authenticated")
    bad = await client.post(
        "/auth/logout", json={"refresh_token": "not-a-token"}, headers={"Authorization": "Bearer nope"}
    )
    assert (bad.status_code, bad.json()["detail"]) == (401, "Invalid refresh token")


@pytest.fixture(params=["memory", "redis"])
async def buckets(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """Settings for the login limiter: process memory, or Redis shared by every process."""
    if request.param == "memory":
        yield {}
        return
    require_service("redis", REDIS_URL)
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)

    async def clear() -> None:
        async for key in redis.scan_iter("keel:ratelimit:authtest:*"):
            await redis.delete(key)

    await clear()
    yield {"redis_url": REDIS_URL}
    await clear()
    await redis.aclose()


async def test_login_is_throttled_per_account(make_client, buckets: dict[str, Any]) -> None:
    client = make_client(**buckets)
    allowed = await _login(client)
    assert allowed.status_code == 200
    assert (allowed.headers["RateLimit-Limit"], allowed.headers["RateLimit-Remaining"]) == ("10", "9")
    wrong = [await _login(client, password="guess") for _ in range(9)]
    assert {a.status_code for a in wrong} == {401}
    refused = await _login(client)  # even the right password, and spelled otherwise
    refused_again = await _login(client, email=EMAIL.upper())
    for answer in (refused, refused_again):
        assert answer.status_code == 429
        assert answer.json()["detail"] == "Too many requests; retry later"
        assert int(answer.headers["Retry-After"]) >= 1
        assert answer.headers["RateLimit-Limit"] == "10"
        assert answer.headers["RateLimit-Remaining"] == "0"
        assert int(answer.headers["RateLimit-Reset"]) >= 1
    # Another account from the same address is not held back.
    assert (await _login(client, email="someone@example.com")).status_code == 401


async def test_login_is_throttled_per_address(make_client, buckets: dict[str, Any]) -> None:
    guesser, elsewhere = make_client("10.0.0.7", **buckets), make_client("10.0.0.8", **buckets)
    answers = [await _login(guesser, email=f"guess{n}@example.com") for n in range(30)]
    assert {a.status_code for a in answers} == {401}
    refused = await _login(guesser)
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Limit"] == "30"
    assert (await _login(elsewhere)).status_code == 200


async def test_login_limits_follow_the_scale(make_client) -> None:
    client = make_client(rate_limit_scale=0)
    assert {(await _login(client, password="guess")).status_code for _ in range(12)} == {401}
