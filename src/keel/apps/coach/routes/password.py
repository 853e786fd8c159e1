from fastapi import APIRouter, Request

from keel.apps.coach.deps import CurrentUser, Mail, PasswordLimit, ResetLimit, passwords
from keel.apps.coach.schemas import PasswordChange, PasswordReset, PasswordResetRequest
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized, error_responses
from keel.core.schemas import Message
from keel.core.security.auth import request_access_claims

router = APIRouter(prefix="/api/v1/auth/password", tags=["auth"], route_class=TransactionalRoute)

REQUESTED = "If an account exists for this email, a reset code has been sent to it"


def _secret(request: Request) -> str:
    return request.app.state.settings.secret_key


@router.post(
    "/request-reset",
    status_code=202,
    response_model=Message,
    responses=error_responses(TooManyRequests),
    dependencies=[ResetLimit],
)
async def request_reset(
    data: PasswordResetRequest, request: Request, session: DbSession, mail: Mail
) -> Message:
    """Mail a 6-digit code, valid 15 minutes. The answer is the same whether the account exists,
    and whether the request was throttled (3 codes per 15 minutes, one a minute)."""
    await passwords.request_reset(session, mail, str(data.email), secret=_secret(request))
    return Message(message=REQUESTED)


@router.post(
    "/reset",
    response_model=Message,
    responses=error_responses(BadRequest, TooManyRequests),
    dependencies=[ResetLimit],
)
async def reset(data: PasswordReset, request: Request, session: DbSession) -> Message:
    """Set a new password with the mailed code; every device of the account is signed out. A
    code dies after 5 wrong tries."""
    await passwords.reset(session, str(data.email), data.code, data.new_password, secret=_secret(request))
    return Message(message="Password has been reset")


@router.post(
    "/change",
    response_model=Message,
    responses=error_responses(Unauthorized, Forbidden, TooManyRequests),
    dependencies=[PasswordLimit],
)
async def change(data: PasswordChange, request: Request, user: CurrentUser, session: DbSession) -> Message:
    """Set a new password with the current one (403 when it is wrong); every other device is
    signed out, this one stays signed in."""
    keep = request_access_claims(request).extra.get("sid")
    await passwords.change(session, user.id, data.current_password, data.new_password, keep=keep)
    return Message(message="Password has been changed")
