from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder

from keel.apps.coach.deps import CurrentUser, ReadLimit, WriteLimit, auth
from keel.apps.coach.schemas import (
    DeleteAccount,
    DeletionConfirmation,
    SessionOut,
    UserOut,
    UserUpdate,
)
from keel.apps.coach.services import accounts, privacy
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import NotFound, Unauthorized, Unprocessable, error_responses
from keel.core.ratelimit import client_address
from keel.core.security.auth import request_access_claims
from keel.core.storage import Presigned

router = APIRouter(prefix="/api/v1/me", tags=["me"], route_class=TransactionalRoute)


@router.get("", response_model=UserOut, responses=error_responses(Unauthorized), dependencies=[ReadLimit])
async def me(user: CurrentUser) -> Any:
    return user


@router.patch("", response_model=UserOut, responses=error_responses(Unauthorized), dependencies=[WriteLimit])
async def update_me(data: UserUpdate, user: CurrentUser, session: DbSession) -> Any:
    """Name and time zone; day logs are days in this time zone."""
    return await accounts.update_profile(session, user.id, data)


@router.get(
    "/sessions",
    response_model=list[SessionOut],
    responses=error_responses(Unauthorized),
    dependencies=[ReadLimit],
)
async def sessions(request: Request, user: CurrentUser, session: DbSession) -> list[dict[str, Any]]:
    """The devices signed in to this account; `current` marks the one asking."""
    return await accounts.sessions_of(session, user.id, request_access_claims(request).extra.get("sid"))


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(Unauthorized, NotFound),
    dependencies=[WriteLimit],
)
async def end_session(session_id: str, user: CurrentUser, session: DbSession) -> None:
    """Sign one device out: its tokens stop working at once."""
    if len(session_id) > 32 or not await auth.end_session(session, user.id, session_id):
        raise NotFound("No such session")


@router.get("/export", responses=error_responses(Unauthorized), dependencies=[WriteLimit])
async def export(
    request: Request, user: CurrentUser, session: DbSession, presigner: Presigned
) -> dict[str, Any]:
    """Everything stored about the user, as JSON, with links to the uploaded files. Each export
    is written to the audit log."""
    await privacy.audit(session, user.id, "account.export", f"user:{user.id}", client_address(request))
    return jsonable_encoder(await privacy.export(session, user.id, request, presigner))


@router.post(
    "/deletion",
    response_model=DeletionConfirmation,
    responses=error_responses(Unauthorized),
    dependencies=[WriteLimit],
)
async def ask_deletion(request: Request, user: CurrentUser) -> dict[str, Any]:
    """The first step of erasing the account: a token, valid 10 minutes, that `DELETE /me` needs."""
    token, expires_at = privacy.confirmation_token(request.app.state.settings.secret_key, user.id)
    return {"confirmation_token": token, "expires_at": expires_at}


@router.delete(
    "",
    status_code=204,
    response_class=Response,
    responses=error_responses(Unauthorized, Unprocessable),
    dependencies=[WriteLimit],
)
async def delete_me(data: DeleteAccount, request: Request, user: CurrentUser, session: DbSession) -> None:
    """Erase the account and all its data, with the token from `POST /me/deletion`."""
    privacy.check_confirmation(request.app.state.settings.secret_key, user.id, data.confirmation_token)
    await privacy.erase(session, user.id, client_address(request), request)
