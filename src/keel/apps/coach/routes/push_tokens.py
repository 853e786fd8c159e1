from typing import Any

from fastapi import APIRouter, Request, Response

from keel.apps.coach.deps import CurrentUser, ReadLimit, WriteLimit
from keel.apps.coach.schemas import PushTokenIn, PushTokenOut
from keel.apps.coach.services import devices, reminders
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import NotFound, TooManyRequests, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/me/push-tokens", tags=["me"], route_class=TransactionalRoute)


@router.post(
    "",
    response_model=PushTokenOut,
    status_code=201,
    responses={200: {"model": PushTokenOut}, **error_responses(Unauthorized, TooManyRequests)},
    dependencies=[WriteLimit],
)
async def register(
    data: PushTokenIn, request: Request, response: Response, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """Register this device for reminders: 201, or 200 when it was registered already. The
    user's enabled reminders are scheduled (a repeat schedules nothing twice: each fires once)."""
    token, created = await devices.register(session, user.id, data.token, data.platform.value)
    if not created:
        response.status_code = 200
    await reminders.schedule(session, user.id, request)
    return token


@router.get(
    "", response_model=list[PushTokenOut], responses=error_responses(Unauthorized), dependencies=[ReadLimit]
)
async def list_tokens(user: CurrentUser, db: ReadDb) -> list[dict[str, Any]]:
    return await devices.of_user(db, user.id)


@router.delete(
    "/{token}",
    status_code=204,
    response_class=Response,
    responses=error_responses(Unauthorized, NotFound),
    dependencies=[WriteLimit],
)
async def unregister(token: str, user: CurrentUser, session: DbSession) -> None:
    """Stop pushing to this device; 404 for a token that is not this user's."""
    await devices.unregister(session, user.id, token)
