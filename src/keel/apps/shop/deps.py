"""The shop's typed dependencies: who is asking, whether they may, and the process's checkout
and payments."""

from typing import Annotated

from fastapi import Depends, Request

from keel.apps.shop.models import RefreshToken, RevokedToken, User
from keel.apps.shop.services.checkout import Checkout
from keel.apps.shop.services.payments import Payments
from keel.core.db import request_database
from keel.core.security.auth import Authenticator, UserRow

auth = Authenticator(user_model=User, refresh_model=RefreshToken, revoked_model=RevokedToken)

# The signed-in user's row: `.id`, `.is_admin`, `.username`... as on `User`, read-only.
CurrentUser = Annotated[UserRow, Depends(auth.current_user)]
AdminUser = Annotated[UserRow, Depends(auth.admin_user)]


async def _checkout(request: Request) -> Checkout:
    # One per app and process: its batches combine the orders this process receives at once.
    state = request.app.state
    if (checkout := getattr(state, "shop_checkout", None)) is None:
        checkout = state.shop_checkout = Checkout(request_database(request), state.settings)
    return checkout


CheckoutService = Annotated[Checkout, Depends(_checkout)]


async def _payments(request: Request) -> Payments:
    # One per app and process: the provider is loaded once (KEEL_SHOP_PAYMENT_PROVIDER).
    state = request.app.state
    if (payments := getattr(state, "shop_payments", None)) is None:
        payments = state.shop_payments = Payments(request_database(request), state.settings)
    return payments


PaymentService = Annotated[Payments, Depends(_payments)]
