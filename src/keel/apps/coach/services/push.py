"""Push providers: how a reminder reaches a device. FCM HTTP v1 when `KEEL_COACH_FCM_PROJECT_ID`
is set, else a webhook (`KEEL_COACH_PUSH_WEBHOOK_URL`: a JSON POST your own sender turns into
pushes), else none (the reminder is only logged).

A provider answers the tokens the push service says are gone (FCM's UNREGISTERED), which the
caller forgets. A failure worth retrying (network, 429, 5xx, a refused grant) raises, so the
reminder's job runs again; devices a retried attempt already reached may get it twice.
"""

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from keel.settings import Settings

log = logging.getLogger("keel.coach.push")

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# An access token is used until this close to its expiry.
_EXPIRY_MARGIN = 60


@dataclass(frozen=True, slots=True)
class Device:
    token: str
    platform: str


@dataclass(frozen=True, slots=True)
class Notification:
    title: str
    body: str
    data: dict[str, str]


class PushProvider(Protocol):
    name: str

    async def send(self, user_id: int, devices: list[Device], notification: Notification) -> set[str]:
        """Push to each device; answers the tokens the service no longer knows."""
        ...


class NoPush:
    name = "none"

    async def send(self, user_id: int, devices: list[Device], notification: Notification) -> set[str]:
        log.info("push not configured", extra={"user_id": user_id, "title": notification.title})
        return set()


class WebhookPush:
    """One POST per reminder: `{"user_id", "devices": [{"token", "platform"}], "notification":
    {"title", "body"}, "data"}`; any 2xx is delivered."""

    name = "webhook"

    def __init__(self, url: str, timeout: float):
        self.url = url
        self.timeout = timeout

    async def send(self, user_id: int, devices: list[Device], notification: Notification) -> set[str]:
        body = {
            "user_id": user_id,
            "devices": [{"token": device.token, "platform": device.platform} for device in devices],
            "notification": {"title": notification.title, "body": notification.body},
            "data": notification.data,
        }
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, json=body)
        response.raise_for_status()
        return set()


# Access tokens by (service account, token URI), kept by the process until near their expiry:
# a grant per push would cost a signature and a round trip each time.
_access_tokens: dict[tuple[str, str], tuple[str, float]] = {}


class FCMPush:
    """FCM HTTP v1: an OAuth2 access token from a JWT grant signed with the service account's
    private key (RS256), then `POST /v1/projects/{project}/messages:send` per device."""

    name = "fcm"

    def __init__(
        self, project_id: str, account: dict[str, Any], base_url: str, token_uri: str, timeout: float
    ):
        self.project_id = project_id
        self.account = account
        self.base_url = base_url.rstrip("/")
        self.token_uri = token_uri
        self.timeout = timeout

    def _assertion(self, now: int) -> str:
        claims = {
            "iss": self.account["client_email"],
            "scope": FCM_SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        }
        headers = {"kid": self.account["private_key_id"]} if self.account.get("private_key_id") else None
        return jwt.encode(claims, self.account["private_key"], algorithm="RS256", headers=headers)

    async def _access_token(self, client: httpx.AsyncClient) -> str:
        cache_key = (self.account["client_email"], self.token_uri)
        cached = _access_tokens.get(cache_key)
        now = time.time()
        if cached is not None and cached[1] - _EXPIRY_MARGIN > now:
            return cached[0]
        response = await client.post(
            self.token_uri, data={"grant_type": JWT_BEARER, "assertion": self._assertion(int(now))}
        )
        response.raise_for_status()
        grant = response.json()
        _access_tokens[cache_key] = (grant["access_token"], now + float(grant.get("expires_in", 3600)))
        return grant["access_token"]

    async def send(self, user_id: int, devices: list[Device], notification: Notification) -> set[str]:
        gone: set[str] = set()
        url = f"{self.base_url}/v1/projects/{self.project_id}/messages:send"
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            headers = {"Authorization": f"Bearer {await self._access_token(client)}"}
            for device in devices:
                message = {
                    "token": device.token,
                    "notification": {"title": notification.title, "body": notification.body},
                    "data": notification.data,
                }
                response = await client.post(url, json={"message": message}, headers=headers)
                if response.is_success:
                    continue
                if _unregistered(response):
                    gone.add(device.token)
                elif response.status_code == 401:
                    _access_tokens.pop((self.account["client_email"], self.token_uri), None)
                    response.raise_for_status()  # retried with a new grant
                elif response.status_code == 429 or response.is_server_error:
                    response.raise_for_status()
                else:  # a message FCM refuses (a malformed token): retrying cannot fix it
                    log.warning(
                        "FCM refused a message",
                        extra={
                            "user_id": user_id,
                            "status": response.status_code,
                            "body": response.text[:500],
                        },
                    )
        return gone


def _unregistered(response: httpx.Response) -> bool:
    """FCM's answer for an app uninstalled or a token expired: 404 (or 400) with the
    `UNREGISTERED` error code in the error's details."""
    if response.status_code not in (400, 404):
        return False
    try:
        details = response.json()["error"].get("details", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    return any(isinstance(item, dict) and item.get("errorCode") == "UNREGISTERED" for item in details)


def _read_account(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


async def provider(settings: Settings) -> PushProvider:
    """The provider the settings choose (the service account's file read in a thread)."""
    if settings.coach_fcm_project_id:
        if settings.coach_fcm_credentials_file is None:
            raise ValueError("KEEL_COACH_FCM_CREDENTIALS_FILE is needed with KEEL_COACH_FCM_PROJECT_ID")
        account = await asyncio.to_thread(_read_account, settings.coach_fcm_credentials_file)
        token_uri = (
            settings.coach_fcm_token_uri or account.get("token_uri") or "https://oauth2.googleapis.com/token"
        )
        return FCMPush(
            settings.coach_fcm_project_id,
            account,
            settings.coach_fcm_base_url,
            token_uri,
            settings.coach_push_timeout_seconds,
        )
    if settings.coach_push_webhook_url:
        return WebhookPush(settings.coach_push_webhook_url, settings.coach_push_timeout_seconds)
    return NoPush()
