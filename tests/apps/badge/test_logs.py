import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _logs(client: httpx.AsyncClient, device: Badge, entries: list[dict]) -> None:
    for entry in entries:
        response = await device.request(client, "POST", f"/api/v1/devices/{device.device_id}/logs", entry)
        assert response.status_code == 201, response.text


async def test_query_filters_by_device_level_module_time_and_text(
    badge: httpx.AsyncClient, admin: Account, device: Badge
) -> None:
    other = await builders.badge(badge, admin)
    now = datetime.now(UTC)
    await _logs(
        badge,
        device,
        [
            builders.log(
                "error", module="yolo", message="Camera 50% busy", timestamp=_iso(now - timedelta(days=2))
            ),
            builders.log("info", module="tts", message="Spoke", timestamp=_iso(now - timedelta(hours=1))),
            builders.log("error", module="tts", message="Speaker_fault", timestamp=_iso(now)),
        ],
    )
    await _logs(badge, other, [builders.log("error", timestamp=_iso(now))])

    async def ids(query: str) -> int:
        response = await badge.get(f"/api/v1/logs?{query}", headers=admin.headers)
        assert response.status_code == 200, response.text
        return response.json()["total"]

    assert await ids("") == 4
    assert await ids(f"device_id={device.device_id}") == 3
    assert await ids(f"device_id={device.device_id}&level=error") == 2
    assert await ids("module=tts") == 2
    assert await ids(f"start_time={_iso(now - timedelta(days=1))}") == 3
    assert await ids(f"end_time={(now - timedelta(days=1)).date()}") == 1
    assert await ids("q=50%25") == 1  # LIKE's % is matched literally
    assert await ids("q=speaker_") == 1
    assert await ids("q=_") == 1
    bad = await badge.get("/api/v1/logs?start_time=2025-02-01&end_time=2025-01-01", headers=admin.headers)
    assert bad.status_code == 422
    assert (await badge.get("/api/v1/logs?level=loud", headers=admin.headers)).status_code == 422
    page = (await badge.get("/api/v1/logs?limit=2&page=2", headers=admin.headers)).json()
    assert len(page["items"]) == 2 and page["total_pages"] == 2
    mine = (await device.request(badge, "GET", "/api/v1/logs")).json()
    assert mine["total"] == 3


async def test_statistics_by_level_module_and_day(
    badge: httpx.AsyncClient, admin: Account, device: Badge
) -> None:
    now = datetime.now(UTC)
    await _logs(
        badge,
        device,
        [
            builders.log("error", module="yolo", timestamp=_iso(now)),
            builders.log("error", module="tts", timestamp=_iso(now - timedelta(days=1))),
            builders.log("info", module="yolo", timestamp=_iso(now - timedelta(days=10))),
        ],
    )
    stats = await badge.get(
        f"/api/v1/logs/statistics?device_id={device.device_id}&period=7d", headers=admin.headers
    )
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["total"] == 2
    assert body["by_level"] == {"error": 2}
    assert body["by_module"] == {"yolo": 1, "tts": 1}
    assert body["by_day"] == {str(now.date() - timedelta(days=1)): 1, str(now.date()): 1}
    assert (await badge.get("/api/v1/logs/statistics?period=30d", headers=admin.headers)).json()["total"] == 3
    assert (
        await badge.get("/api/v1/logs/statistics?period=forever", headers=admin.headers)
    ).status_code == 422


async def test_export_streams_csv_and_json(
    badge: httpx.AsyncClient, admin: Account, device: Badge, monkeypatch
) -> None:
    from keel.apps.badge.services import logs

    monkeypatch.setattr(logs, "EXPORT_CHUNK", 2)  # several chunks from five rows
    await _logs(badge, device, [builders.log("info", message=f'line {n}, "quoted"') for n in range(5)])
    as_csv = await badge.get(
        f"/api/v1/logs/export?device_id={device.device_id}&format=csv", headers=admin.headers
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["error_message"] for row in rows] == [f'line {n}, "quoted"' for n in range(5)]
    assert orjson.loads(rows[0]["error_details"]) == {"objects_detected": 3}
    as_json = await badge.get("/api/v1/logs/export?format=json&level=info", headers=admin.headers)
    assert [row["error_message"] for row in as_json.json()] == [f'line {n}, "quoted"' for n in range(5)]
    empty = await badge.get("/api/v1/logs/export?format=json&level=critical", headers=admin.headers)
    assert empty.json() == []
    assert (await badge.get("/api/v1/logs/export?format=xml", headers=admin.headers)).status_code == 422
    assert (await badge.get("/api/v1/logs/export")).status_code == 401


async def test_an_export_the_database_refuses_is_answered_422_before_it_starts(
    badge: httpx.AsyncClient, admin: Account, device: Badge, dialect: str
) -> None:
    await _logs(badge, device, [builders.log("info")])
    for format in ("csv", "json"):
        answer = await badge.get(f"/api/v1/logs/export?code=%00&format={format}", headers=admin.headers)
        if dialect == "postgresql":
            # PostgreSQL refuses a NUL in a text: a 422, not a 200 whose download breaks off.
            assert answer.status_code == 422
            assert answer.json()["detail"]
        elif format == "csv":  # the others take it: a whole export of what matches
            assert answer.status_code == 200
            assert answer.text.startswith("id,device_id,")
            assert answer.text.endswith("\r\n")
        else:
            assert answer.status_code == 200
            assert isinstance(answer.json(), list)


async def test_resolve_an_error_log(
    badge: httpx.AsyncClient, admin: Account, guest: Account, operator: Account
) -> None:
    device = await builders.badge(badge, admin, user_id=operator.id)  # the operator resolves its logs
    await _logs(badge, device, [builders.log("error")])
    log_id = (await badge.get("/api/v1/logs", headers=admin.headers)).json()["items"][0]["id"]
    body = {"resolution": "Replaced the camera cable"}
    assert (
        await badge.put(f"/api/v1/logs/{log_id}/resolve", json=body, headers=guest.headers)
    ).status_code == 403
    done = await badge.put(f"/api/v1/logs/{log_id}/resolve", json=body, headers=operator.headers)
    assert done.status_code == 200 and done.json()["resolution"] == body["resolution"]
    assert done.json()["resolved_at"]
    assert (
        await badge.put(f"/api/v1/logs/{log_id}/resolve", json=body, headers=operator.headers)
    ).status_code == 409
    assert (
        await badge.put("/api/v1/logs/999999/resolve", json=body, headers=operator.headers)
    ).status_code == 404
    assert (
        await badge.put(f"/api/v1/logs/{log_id}/resolve", json={}, headers=operator.headers)
    ).status_code == 422
    unresolved = await badge.get("/api/v1/logs?resolved=false", headers=admin.headers)
    assert unresolved.json()["total"] == 0
