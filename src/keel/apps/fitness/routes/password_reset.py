from fastapi import APIRouter, Request

from keel.apps.fitness.deps import Mail, passwords
from keel.apps.fitness.schemas import PasswordReset, PasswordResetRequest
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import BadRequest, error_responses
from keel.core.schemas import Message

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=TransactionalRoute)

REQUESTED = "If an account exists for this email, a reset code has been sent to it"


def _secret(request: Request) -> str:
    return request.app.state.settings.secret_key


@router.post("/password/request-reset", status_code=202, response_model=Message)
async def request_reset(
    data: PasswordResetRequest, request: Request, session: DbSession, mail: Mail
) -> Message:
    """Mail a 6-digit code, valid 15 minutes. The answer is the same whether the account exists,
    and whether the request was throttled (3 codes per 15 minutes, one a minute)."""
    await passwords.request_reset(session, mail, str(data.email), secret=_secret(request))
    return Message(message=REQUESTED)


@router.post("/password/reset", response_model=Message, responses=error_responses(BadRequest))
async def reset(data: PasswordReset, request: Request, session: DbSession) -> Message:
    """Set a new password with the mailed code; every device of the account signs in again.
    A code dies after 5 wrong tries."""
    await passwords.reset(session, str(data.email), data.code, data.new_password, secret=_secret(request))
    return Message(message="Password has been reset")
