import httpx
import pytest

from tests.apps.fitness.builders import Athlete

IOS = {
    "latest_version": "2.4.0",
    "min_supported_version": "2.0.0",
    "store_url": "https://apps.apple.com/app/id1",
}


async def test_schemas_describe_every_device_with_labels_and_ranges(fitness: httpx.AsyncClient) -> None:
    described = (await fitness.get("/api/v1/meta/schemas")).json()
    schemas = described["schemas"]
    assert set(schemas) == set(described["device_types"]) == {"rower", "bike", "treadmill"}
    # Any other device type is stored under the generic schema; the version lets a client cache.
    assert {field["key"] for field in described["generic"]["points"]} == {"t", "heart_rate"}
    assert "elliptical" not in described["device_types"]
    assert len(described["version"]) == 16
    assert (await fitness.get("/api/v1/meta/schemas")).json()["version"] == described["version"]
    watts = next(field for field in schemas["rower"]["summary"] if field["key"] == "avg_watts")
    assert watts["unit"] == "W"
    assert watts["label"] == {"zh": "平均瓦數", "en": "Average power"}
    assert (watts["min"], watts["max"], watts["type"]) == (0, 3000, "float")
    time = next(field for field in schemas["bike"]["points"] if field["key"] == "t")
    assert time["required"] is True


async def test_the_version_gate(fitness: httpx.AsyncClient, admin: Athlete) -> None:
    assert (await fitness.get("/api/v1/meta/app_version", params={"platform": "ios"})).status_code == 404
    published = await fitness.put("/api/v1/meta/app_version/ios", json=IOS, headers=admin.headers)
    assert published.status_code == 200

    async def gate(version: str) -> dict:
        response = await fitness.get(
            "/api/v1/meta/app_version", params={"platform": "ios", "version": version}
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert (await gate("1.9.9"))["force_update"] is True
    current = await gate("v2.0")
    assert (current["force_update"], current["update_available"]) == (False, True)
    # Numbers, not text: 2.10 is newer than 2.4.
    newest = await gate("2.10.0")
    assert (newest["force_update"], newest["update_available"]) == (False, False)
    assert newest["store_url"] == IOS["store_url"]
    assert (await fitness.get("/api/v1/meta/app_version", params={"platform": "android"})).status_code == 404
    assert (
        await fitness.get("/api/v1/meta/app_version", params={"platform": "ios", "version": "two"})
    ).status_code == 422
    assert (await fitness.get("/api/v1/meta/app_version", params={"platform": "windows"})).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {**IOS, "min_supported_version": "3.0.0"},
        {**IOS, "latest_version": "latest"},
        {k: v for k, v in IOS.items() if k != "store_url"},
    ],
)
async def test_bad_versions_are_422(fitness: httpx.AsyncClient, admin: Athlete, body: dict) -> None:
    assert (
        await fitness.put("/api/v1/meta/app_version/ios", json=body, headers=admin.headers)
    ).status_code == 422


async def test_only_admins_publish(fitness: httpx.AsyncClient, athlete: Athlete) -> None:
    assert (
        await fitness.put("/api/v1/meta/app_version/ios", json=IOS, headers=athlete.headers)
    ).status_code == 403
    assert (await fitness.put("/api/v1/meta/app_version/ios", json=IOS)).status_code == 401
