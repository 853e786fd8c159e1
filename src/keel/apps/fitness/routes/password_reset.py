from fastapi import APIRouter, Request

from keel.apps.fitness.deps import Mail, auth
from keel.apps.fitness.schemas import PasswordReset, PasswordResetRequest
from keel.apps.fitness.services import password_reset
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
    issued = await password_reset.issue_code(session, str(data.email), secret=_secret(request))
    if issued is not None:
        await mail.send(
            session,
            to=issued.email,
            subject=password_reset.SUBJECT,
            body=password_reset.mail_body(issued.code),
        )
    return Message(message=REQUESTED)


@router.post("/password/reset", response_model=Message, responses=error_responses(BadRequest))
async def reset(data: PasswordReset, request: Request, session: DbSession) -> Message:
    """Set a new password with the mailed code; every device of the account signs in again.
    A code dies after 5 wrong tries."""
    user_id = await password_reset.reset_password(
        session, str(data.email), data.code, data.new_password, secret=_secret(request)
    )
    await auth.revoke_all(session, user_id)
    return Message(message="Password has been reset")
