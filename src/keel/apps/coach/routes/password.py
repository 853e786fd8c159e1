"""Password reset by a mailed code and change, signed in (the core's routes, coach's limits)."""

from fastapi import APIRouter

from keel.apps.coach.deps import CurrentUser, Mail, PasswordLimit, ResetLimit, passwords
from keel.apps.coach.schemas import PasswordChange, PasswordReset, PasswordResetRequest
from keel.core.db import TransactionalRoute
from keel.core.security.routes import add_password_routes

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=TransactionalRoute)
add_password_routes(
    router,
    passwords,
    mail=Mail,
    reset_request_body=PasswordResetRequest,
    reset_body=PasswordReset,
    reset_dependencies=[ResetLimit],
    change_body=PasswordChange,
    current_user=CurrentUser,
    change_dependencies=[PasswordLimit],
)
