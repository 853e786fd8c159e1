"""Builders for badge test data: accounts straight into the database (only an admin makes
accounts, and someone has to be first), everything else through the API."""

import itertools
import time
from dataclasses import dataclass
from typing import Any

import aiomqtt
import httpx
import orjson

from keel.apps.badge.models import User
from keel.apps.badge.services.signatures import sign
from keel.core.db import Database
from keel.core.security.passwords import hash_password

_counter = itertools.count(1)
_age = itertools.count()
PASSWORD = "correct-horse-battery"


@dataclass
class Account:
    id: int
    username: str
    email: str
    role: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Badge:
    device_id: str
    secret: str
    token: str
    # What registration answered for the broker (None with an open broker).
    mqtt_username: str | None = None
    mqtt_password: str | None = None

    def mqtt(self, port: int, **options: Any) -> aiomqtt.Client:
        """A connection to a loopback broker as this badge, with its credentials."""
        return aiomqtt.Client(
            "127.0.0.1", port, username=self.mqtt_username, password=self.mqtt_password, **options
        )

    def signed(self, method: str, target: str, body: bytes = b"", *, at: int | None = None) -> dict[str, str]:
        timestamp = str(at if at is not None else int(time.time()))
        return {
            "Authorization": f"Bearer {self.token}",
            "X-Timestamp": timestamp,
            "X-Signature": sign(self.secret, method, target, body, timestamp),
            "Content-Type": "application/json",
        }

    async def request(
        self, client: httpx.AsyncClient, method: str, target: str, json: Any = None
    ) -> httpx.Response:
        """Signed; each call a second further back in the window, as a state-changing request
        signed again within one second is the same request, run once (and tests repeat requests
        faster than that)."""
        body = orjson.dumps(json) if json is not None else b""
        at = int(time.time()) - next(_age) % 250
        return await client.request(
            method, target, content=body, headers=self.signed(method, target, body, at=at)
        )


async def account(client: httpx.AsyncClient, database: Database, role: str = "user") -> Account:
    n = next(_counter)
    username, email = f"{role}{n}", f"{role}{n}@example.com"
    async with database.sessionmaker() as session:
        user = User(username=username, email=email, password_hash=await hash_password(PASSWORD), role=role)
        session.add(user)
        await session.commit()
        user_id = user.id
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(user_id, username, email, role, body["access_token"], body["refresh_token"])


async def register(client: httpx.AsyncClient, admin: Account, **overrides: Any) -> httpx.Response:
    n = next(_counter)
    body = {
        "device_id": f"luna_badge_{n:04d}",
        "device_name": f"Luna Badge {n}",
        "software_version": "1.0.0",
        **overrides,
    }
    return await client.post("/api/v1/devices/register", json=body, headers=admin.headers)


async def badge(client: httpx.AsyncClient, admin: Account, **overrides: Any) -> Badge:
    response = await register(client, admin, **overrides)
    assert response.status_code == 201, response.text
    body = response.json()
    return Badge(
        body["device_id"],
        body["device_secret"],
        body["device_token"],
        body["mqtt_username"],
        body["mqtt_password"],
    )


def heartbeat(**overrides: Any) -> dict[str, Any]:
    return {
        "timestamp": "2025-01-22T10:30:00Z",
        "status": "online",
        "cpu_usage": 45.2,
        "memory_usage": 67.8,
        "temperature": 42.5,
        **overrides,
    }


def log(level: str = "info", **overrides: Any) -> dict[str, Any]:
    return {
        "timestamp": "2025-01-22T10:30:00Z",
        "level": level,
        "module": "yolo",
        "message": "Detection completed",
        "details": {"objects_detected": 3},
        **overrides,
    }
