"""EMQX's HTTP authentication and authorization hooks (issue 17 item 1): EMQX asks on each
connect, publish and subscribe, sending X-Keel-Hook-Token (KEEL_BADGE_MQTT_HOOK_TOKEN), and keel
answers by the rules of services/broker.py. Anything but a 200 is "ignore" to EMQX, so its
`authorization.no_match` must be `deny` (see the README)."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request

from keel.apps.badge.schemas import HookAclIn, HookAclOut, HookAuthIn, HookAuthOut
from keel.apps.badge.services import broker
from keel.core.db import ReadDb
from keel.core.errors import NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/mqtt", tags=["mqtt"])

HookToken = Annotated[str | None, Header(alias="X-Keel-Hook-Token", max_length=256)]


def _check_token(request: Request, token: str | None) -> None:
    expected = request.app.state.settings.badge_mqtt_hook_token
    if expected is None:
        raise NotFound("The EMQX hooks are off (KEEL_BADGE_MQTT_HOOK_TOKEN)")
    if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("Invalid hook token")


def _result(allowed: bool) -> str:
    return "allow" if allowed else "deny"


@router.post("/auth", response_model=HookAuthOut, responses=error_responses(Unauthorized, NotFound))
async def authenticate(
    data: HookAuthIn, request: Request, db: ReadDb, token: HookToken = None
) -> HookAuthOut:
    """EMQX's HTTP authenticator: `allow` for keel's own account and for a badge with its MQTT
    password, `deny` otherwise (anonymous included). Never a superuser: every topic goes
    through `/acl`."""
    _check_token(request, token)
    settings = request.app.state.settings
    allowed = await broker.authenticate(db, settings, data.username, data.password)
    return HookAuthOut(result=_result(allowed))


@router.post("/acl", response_model=HookAclOut, responses=error_responses(Unauthorized, NotFound))
async def authorize(data: HookAclIn, request: Request, db: ReadDb, token: HookToken = None) -> HookAclOut:
    """EMQX's HTTP authorizer: a badge publishes only its own upstream topics and subscribes
    only to its own downstream ones; keel's account the reverse, for every badge."""
    _check_token(request, token)
    settings = request.app.state.settings
    allowed = await broker.authorize(db, settings, data.username, data.topic, data.action)
    return HookAclOut(result=_result(allowed))
