from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from keel.apps.shop.deps import AdminUser, CheckoutService, CurrentUser, PaymentService
from keel.apps.shop.models import Order
from keel.apps.shop.schemas import (
    OrderCreate,
    OrderFilters,
    OrderOut,
    OrderSummaryOut,
    PaymentRequest,
)
from keel.apps.shop.services import orders
from keel.apps.shop.services.checkout import idempotency
from keel.core.db import DbSession, TransactionalRoute
from keel.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PaymentRequired,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    error_responses,
)
from keel.core.idempotency import IdempotencyKeyHeader
from keel.core.pagination import TOTAL_COUNT, OffsetParams
from keel.core.params import BigIntId

router = APIRouter(prefix="/api/orders", tags=["orders"], route_class=TransactionalRoute)
_MOVE_ERRORS = error_responses(Unauthorized, NotFound, Conflict)


@router.post(
    "",
    status_code=201,
    response_model=OrderOut,
    responses=error_responses(BadRequest, Unauthorized, NotFound, Conflict, Unprocessable),
)
@router.post("/", status_code=201, response_model=OrderOut, include_in_schema=False)
async def create_order(
    data: OrderCreate,
    user: CurrentUser,
    request: Request,
    checkout: CheckoutService,
    key: IdempotencyKeyHeader,
) -> dict[str, Any]:
    """Check and take the stock, snapshot the prices and write the order, all or nothing; the
    stock is held for `KEEL_SHOP_UNPAID_ORDER_MINUTES`, unpaid. 404 an unknown product, 400 short
    stock, 409 a buyer's limit on unpaid orders or units of one product in them (the detail says
    which), or a write conflict that persisted. With an `Idempotency-Key`, a retry answers the
    first order (the same id, the stock taken once)."""
    claim = await idempotency.guard(request, f"user:{user.id}:orders.create", key) if key else None
    return await checkout.place(user.id, data, claim)


@router.get(
    "",
    response_model=list[OrderSummaryOut],
    responses=error_responses(BadRequest, Unauthorized, Forbidden, Unprocessable),
)
@router.get("/", response_model=list[OrderSummaryOut], include_in_schema=False)
async def list_orders(
    user: CurrentUser,
    session: DbSession,
    page: OffsetParams,
    filters: Annotated[OrderFilters, Query()],
    response: Response,
) -> list[OrderSummaryOut]:
    """The signed-in user's orders, newest first, or an admin's back office: every customer's,
    or one's by `user_id`. `status` (`pending` for pending_payment), `created_from` (inclusive)
    and `created_to` (exclusive) filter; a time without a zone is UTC. `X-Total-Count` is how
    many match across all pages. item_count is the number of units. 403 a customer's `user_id`
    of another user; 400 `created_from` after `created_to`; 422 a malformed value."""
    summaries, total = await orders.list_orders(session, user, page, filters)
    response.headers[TOTAL_COUNT] = str(total)
    return summaries


@router.get("/{order_id}", response_model=OrderOut, responses=error_responses(Unauthorized, NotFound))
async def get_order(order_id: BigIntId, user: CurrentUser, session: DbSession) -> Order:
    """The buyer's order, or any order for an admin; another user's is 404."""
    return await orders.get_order(session, order_id, user)


@router.post(
    "/{order_id}/pay",
    response_model=OrderOut,
    responses=error_responses(Unauthorized, PaymentRequired, NotFound, Conflict, ServiceUnavailable),
)
async def pay_order(
    order_id: BigIntId, user: CurrentUser, payments: PaymentService, data: PaymentRequest | None = None
) -> Order:
    """Charge the order through the payment provider (KEEL_SHOP_PAYMENT_PROVIDER), with
    `payment_method` or else the one given at checkout. Only the buyer pays (404 for others).
    402 refused (the order stays payable, `payment_error` says why), 409 expired, already
    being paid or no longer pending_payment, 503 the provider did not answer (not paid)."""
    return await payments.pay(order_id, user.id, data.payment_method if data else None)


@router.post(
    "/{order_id}/ship", response_model=OrderOut, responses={**_MOVE_ERRORS, **error_responses(Forbidden)}
)
async def ship_order(order_id: BigIntId, admin: AdminUser, session: DbSession) -> Order:
    return await orders.transition(session, await orders.get_order(session, order_id, admin), "ship")


@router.post(
    "/{order_id}/deliver", response_model=OrderOut, responses={**_MOVE_ERRORS, **error_responses(Forbidden)}
)
async def deliver_order(order_id: BigIntId, admin: AdminUser, session: DbSession) -> Order:
    return await orders.transition(session, await orders.get_order(session, order_id, admin), "deliver")


@router.post("/{order_id}/cancel", response_model=OrderOut, responses=_MOVE_ERRORS)
async def cancel_order(order_id: BigIntId, user: CurrentUser, payments: PaymentService) -> Order:
    """The buyer cancels their pending or paid order, an admin any; its stock goes back on
    sale and a paid one is refunded (`refunded_at`, `refund_amount`; empty while the provider
    has not answered, the sweep retries). 409 for any other status (paying included)."""
    return await payments.cancel(order_id, user)
