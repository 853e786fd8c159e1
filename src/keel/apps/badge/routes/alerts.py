from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from keel.apps.badge.deps import Admin, Viewer, Writer
from keel.apps.badge.schemas import AlertOut, AlertRuleCreate, AlertRuleOut
from keel.apps.badge.services import alerts
from keel.core.db import DbSession, ReadDb, TransactionalRoute
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable, error_responses
from keel.core.pagination import Page, PageParams
from keel.core.params import IntId

router = APIRouter(prefix="/api/v1", tags=["alerts"], route_class=TransactionalRoute)


@router.get(
    "/alert-rules", response_model=list[AlertRuleOut], responses=error_responses(Unauthorized, Forbidden)
)
async def list_rules(_viewer: Viewer, db: ReadDb) -> list[Any]:
    return await alerts.list_rules(db)


@router.post(
    "/alert-rules",
    status_code=201,
    response_model=AlertRuleOut,
    responses=error_responses(Unauthorized, Forbidden, Unprocessable),
)
async def create_rule(data: AlertRuleCreate, _admin: Admin, session: DbSession) -> Any:
    """`critical_logs`: `threshold` critical logs of one device within `window_minutes`.
    `device_offline`: no heartbeat for `window_minutes`. Optionally for one `device_id`."""
    return await alerts.create_rule(session, data)


@router.delete(
    "/alert-rules/{rule_id}", status_code=204, responses=error_responses(Unauthorized, Forbidden, NotFound)
)
async def delete_rule(rule_id: IntId, _admin: Admin, session: DbSession) -> Response:
    await alerts.delete_rule(session, rule_id)
    return Response(status_code=204)


@router.get("/alerts", response_model=Page[AlertOut], responses=error_responses(Unauthorized, Forbidden))
async def list_alerts(
    viewer: Viewer,
    db: ReadDb,
    page: PageParams,
    acknowledged: bool | None = None,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """Newest first; a `user` sees the alerts of the badges bound to them."""
    return await alerts.list_alerts(
        db, page, acknowledged=acknowledged, device_id=device_id, owner=viewer.owner
    )


@router.post(
    "/alerts/evaluate", response_model=dict[str, int], responses=error_responses(Unauthorized, Forbidden)
)
async def evaluate(request: Request, _admin: Admin, session: DbSession) -> dict[str, int]:
    """Run the offline check now (the server also runs it every `KEEL_BADGE_OFFLINE_SWEEP_SECONDS`).
    Offline is what the device list says: no heartbeat within `KEEL_BADGE_OFFLINE_AFTER_SECONDS`,
    or the device's will message received since."""
    offline_after = request.app.state.settings.badge_offline_after_seconds
    return {"raised": await alerts.sweep_offline(session, offline_after)}


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def acknowledge(alert_id: IntId, writer: Writer, session: DbSession) -> Any:
    return await alerts.acknowledge(session, alert_id, writer.user_id, owner=writer.owner)
