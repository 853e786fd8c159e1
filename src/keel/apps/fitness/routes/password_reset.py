"""Password reset by a mailed code (the core's routes)."""

from fastapi import APIRouter

from keel.apps.fitness.deps import Mail, passwords
from keel.apps.fitness.schemas import PasswordReset, PasswordResetRequest
from keel.core.db import TransactionalRoute
from keel.core.security.routes import add_password_routes

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=TransactionalRoute)
add_password_routes(
    router, passwords, mail=Mail, reset_request_body=PasswordResetRequest, reset_body=PasswordReset
)
