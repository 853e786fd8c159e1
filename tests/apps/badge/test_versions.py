import hashlib

import httpx

from keel.apps.badge.services.versions import bucket
from tests.apps.badge import builders
from tests.apps.badge.builders import Account, Badge

FIRMWARE = b"\x7fFIRMWARE" + bytes(range(256)) * 64


async def publish(client: httpx.AsyncClient, admin: Account, number: str, **fields) -> httpx.Response:
    data = {"version_number": number, "version_type": "stable", **{k: str(v) for k, v in fields.items()}}
    files = {"file": (f"fw-{number}.bin", FIRMWARE + number.encode(), "application/octet-stream")}
    return await client.post("/api/v1/versions", data=data, files=files, headers=admin.headers)


async def test_publish_computes_checksum_and_size_and_download_serves_it(
    badge: httpx.AsyncClient, admin: Account, operator: Account, device: Badge
) -> None:
    created = await publish(badge, admin, "1.1.0", release_notes="Faster")
    assert created.status_code == 201, created.text
    version = created.json()
    content = FIRMWARE + b"1.1.0"
    assert version["checksum"] == hashlib.sha256(content).hexdigest()
    assert version["file_size"] == len(content)
    assert version["download_url"].endswith(f"/api/v1/versions/{version['id']}/download")
    assert (await publish(badge, admin, "1.1.0")).status_code == 409
    assert (await publish(badge, admin, "v1.1")).status_code == 409  # the same version spelled otherwise
    assert (await publish(badge, admin, "one")).status_code == 422
    assert (await publish(badge, operator, "1.2.0")).status_code == 403
    assert (await publish(badge, admin, "1.3.0", rollout_percentage=101)).status_code == 422
    download = await device.request(badge, "GET", f"/api/v1/versions/{version['id']}/download")
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["x-checksum"] == f"sha256:{version['checksum']}"
    assert int(download.headers["content-length"]) == len(content)
    assert (await badge.get("/api/v1/versions/999999/download", headers=admin.headers)).status_code == 404


async def test_list_by_type_newest_first(badge: httpx.AsyncClient, admin: Account, guest: Account) -> None:
    for number, kind in (("1.9.0", "stable"), ("1.10.0", "stable"), ("2.0.0", "beta")):
        assert (await publish(badge, admin, number, version_type=kind)).status_code == 201
    stable = (await badge.get("/api/v1/versions?type=stable", headers=guest.headers)).json()
    assert [v["version_number"] for v in stable] == ["1.10.0", "1.9.0"]  # semantic, not text, order
    assert len((await badge.get("/api/v1/versions", headers=guest.headers)).json()) == 3
    assert (await badge.get("/api/v1/versions?type=nightly", headers=guest.headers)).status_code == 422


async def test_check_compares_semantic_versions_with_or_without_v(
    badge: httpx.AsyncClient, admin: Account, guest: Account
) -> None:
    await publish(badge, admin, "1.10.0", min_compatible_version="1.2.0")
    await publish(badge, admin, "2.0.0-beta".split("-")[0], version_type="beta")

    async def check(current: str, **query) -> dict:
        params = "&".join(f"{k}={v}" for k, v in {"current_version": current, **query}.items())
        response = await badge.get(f"/api/v1/versions/check?{params}", headers=guest.headers)
        assert response.status_code == 200, response.text
        return response.json()

    older = await check("v1.9.0")
    assert older["has_update"] is True and older["latest_version"] == "1.10.0"
    assert older["force_update"] is False and older["min_compatible_version"] == "1.2.0"
    info = older["update_info"]
    assert info["checksum"].startswith("sha256:") and info["file_size"] > 0 and info["download_url"]
    assert (await check("1.1.9"))["force_update"] is True  # below the minimum compatible version
    assert (await check("1.10.0")) == {
        "current_version": "1.10.0",
        "has_update": False,
        "latest_version": None,
        "force_update": False,
        "min_compatible_version": None,
        "update_info": None,
    }
    assert (await check("v1.10.0", type="beta"))["latest_version"] == "2.0.0"
    bad = await badge.get("/api/v1/versions/check?current_version=latest", headers=guest.headers)
    assert bad.status_code == 422 and "semantic version" in str(bad.json()["detail"])
    assert (await badge.get("/api/v1/versions/check", headers=guest.headers)).status_code == 422


async def test_force_update_flag(badge: httpx.AsyncClient, admin: Account, guest: Account) -> None:
    await publish(badge, admin, "3.0.1", is_force_update="true")
    body = (await badge.get("/api/v1/versions/check?current_version=3.0.0", headers=guest.headers)).json()
    assert body["force_update"] is True and body["update_info"]["force_update"] is True


async def test_staged_rollout_is_deterministic_and_grows(badge: httpx.AsyncClient, admin: Account) -> None:
    badges = [await builders.badge(badge, admin) for _ in range(12)]
    created = (await publish(badge, admin, "1.5.0", rollout_percentage=30)).json()
    target = "/api/v1/versions/check?current_version=1.0.0"

    async def offered() -> set[str]:
        reached = set()
        for device in badges:
            body = (await device.request(badge, "GET", target)).json()
            if body["has_update"]:
                reached.add(device.device_id)
        return reached

    expected = {d.device_id for d in badges if bucket("1.5.0", d.device_id) < 30}
    assert await offered() == expected
    assert await offered() == expected  # the same devices every time
    # Without a device, only a full rollout counts; with one, that device's cohort.
    assert (await badge.get(target, headers=admin.headers)).json()["has_update"] is False
    grown = await badge.post(
        f"/api/v1/versions/{created['id']}/rollout", json={"percentage": 80}, headers=admin.headers
    )
    assert grown.status_code == 200 and grown.json()["rollout_percentage"] == 80
    wider = await offered()
    assert expected <= wider and wider == {d.device_id for d in badges if bucket("1.5.0", d.device_id) < 80}
    paused = await badge.post(f"/api/v1/versions/{created['id']}/pause", headers=admin.headers)
    assert paused.json()["rollout_status"] == "paused"
    assert await offered() == set()
    await badge.post(f"/api/v1/versions/{created['id']}/resume", headers=admin.headers)
    assert await offered() == wider
    bad = await badge.post(
        f"/api/v1/versions/{created['id']}/rollout", json={"percentage": 120}, headers=admin.headers
    )
    assert bad.status_code == 422
    assert (await badge.post("/api/v1/versions/999999/pause", headers=admin.headers)).status_code == 404


async def test_rollback_to_previous_stable_and_update_reports(
    badge: httpx.AsyncClient, admin: Account, operator: Account, device: Badge
) -> None:
    first = (await publish(badge, admin, "1.1.0")).json()
    assert (
        await badge.post(f"/api/v1/versions/{first['id']}/rollback", headers=admin.headers)
    ).status_code == 409
    second = (await publish(badge, admin, "1.2.0")).json()
    ok = await device.request(
        badge,
        "POST",
        f"/api/v1/versions/{second['id']}/report",
        {"status": "success", "from_version": "1.0.0"},
    )
    assert ok.status_code == 201, ok.text
    assert (await badge.get(f"/api/v1/devices/{device.device_id}", headers=admin.headers)).json()[
        "software_version"
    ] == "1.2.0"
    other = await builders.badge(badge, admin)
    failed = await other.request(
        badge,
        "POST",
        f"/api/v1/versions/{second['id']}/report",
        {"status": "failed", "error": "checksum_mismatch"},
    )
    assert failed.status_code == 201
    assert (
        await device.request(badge, "POST", f"/api/v1/versions/{second['id']}/report", {"status": "maybe"})
    ).status_code == 422
    assert (
        await badge.post(
            f"/api/v1/versions/{second['id']}/report", json={"status": "success"}, headers=admin.headers
        )
    ).status_code == 403
    stats = (await badge.get("/api/v1/versions/statistics", headers=operator.headers)).json()
    row = next(s for s in stats if s["version_number"] == "1.2.0")
    assert row == {
        "version_id": second["id"],
        "version_number": "1.2.0",
        "reports": 2,
        "success": 1,
        "failed": 1,
        "success_rate": 0.5,
    }
    assert (await device.request(badge, "GET", "/api/v1/versions/statistics")).status_code == 403
    assert (
        await badge.post(f"/api/v1/versions/{second['id']}/rollback", headers=operator.headers)
    ).status_code == 403
    rolled = await badge.post(f"/api/v1/versions/{second['id']}/rollback", headers=admin.headers)
    assert rolled.status_code == 200, rolled.text
    body = rolled.json()
    assert (
        body["target"]["version_number"] == "1.1.0" and body["rolled_back"]["rollout_status"] == "rolled_back"
    )
    check = (await badge.get("/api/v1/versions/check?current_version=1.0.0", headers=admin.headers)).json()
    assert check["latest_version"] == "1.1.0"
    assert (
        await badge.post(f"/api/v1/versions/{second['id']}/resume", headers=admin.headers)
    ).status_code == 409
