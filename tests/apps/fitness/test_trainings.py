import httpx
import pytest

from tests.apps.fitness.builders import Athlete

COURSE = {
    "title": "Hill Climb",
    "type": "course",
    "cover_url": "https://cdn.example.com/hill.jpg",
    "settings": {"resistance": [{"at": 0, "level": 3}, {"at": 60, "level": 8}]},
    "supported_devices": ["bike"],
}


async def make(fitness: httpx.AsyncClient, admin: Athlete, **overrides) -> dict:
    response = await fitness.post("/api/v1/trainings", json={**COURSE, **overrides}, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_list_filters_by_device_and_type_and_pages_with_a_total(
    fitness: httpx.AsyncClient, admin: Athlete
) -> None:
    hill = await make(fitness, admin)
    row = await make(fitness, admin, title="Row Sprint", type="game", supported_devices=["rower"])
    both = await make(fitness, admin, title="Cross", type="free", supported_devices=["rower", "bike"])
    hidden = await make(fitness, admin, title="Draft", supported_devices=["bike"], enabled=False)

    def ids(response: httpx.Response) -> list[int]:
        return [item["id"] for item in response.json()["items"]]

    listing = await fitness.get("/api/v1/trainings")
    assert listing.json()["total"] == 3
    assert ids(listing) == [hill["id"], row["id"], both["id"]]
    assert "settings" not in listing.json()["items"][0]
    assert ids(await fitness.get("/api/v1/trainings", params={"device_type": "bike"})) == [
        hill["id"],
        both["id"],
    ]
    assert ids(await fitness.get("/api/v1/trainings", params={"device_type": "rower"})) == [
        row["id"],
        both["id"],
    ]
    assert ids(await fitness.get("/api/v1/trainings", params={"device_type": "treadmill"})) == []
    assert ids(await fitness.get("/api/v1/trainings", params={"type": "game"})) == [row["id"]]
    page = (await fitness.get("/api/v1/trainings", params={"page": 2, "limit": 2})).json()
    assert (page["total"], page["total_pages"], [i["id"] for i in page["items"]]) == (3, 2, [both["id"]])
    assert (await fitness.get("/api/v1/trainings", params={"device_type": "kayak"})).status_code == 422
    assert hidden["id"] not in ids(listing)


async def test_one_training_has_its_resistance_script(fitness: httpx.AsyncClient, admin: Athlete) -> None:
    hill = await make(fitness, admin)
    body = (await fitness.get(f"/api/v1/trainings/{hill['id']}")).json()
    assert body["settings"] == COURSE["settings"]
    assert body["supported_devices"] == ["bike"]
    assert (await fitness.get("/api/v1/trainings/999999")).json() == {"detail": "Training not found"}


async def test_admins_edit_and_disable_others_cannot(
    fitness: httpx.AsyncClient, admin: Athlete, athlete: Athlete
) -> None:
    hill = await make(fitness, admin)
    path = f"/api/v1/trainings/{hill['id']}"
    assert (await fitness.post("/api/v1/trainings", json=COURSE, headers=athlete.headers)).status_code == 403
    assert (await fitness.post("/api/v1/trainings", json=COURSE)).status_code == 401
    assert (await fitness.patch(path, json={"title": "X"}, headers=athlete.headers)).status_code == 403
    renamed = await fitness.patch(
        path, json={"title": "Hill Climb II", "supported_devices": ["bike", "rower"]}, headers=admin.headers
    )
    assert renamed.status_code == 200
    assert (renamed.json()["title"], renamed.json()["supported_devices"]) == (
        "Hill Climb II",
        ["bike", "rower"],
    )
    assert (await fitness.delete(path, headers=athlete.headers)).status_code == 403
    assert (await fitness.delete(path, headers=admin.headers)).status_code == 204
    assert (await fitness.get(path)).status_code == 404
    assert (await fitness.get("/api/v1/trainings")).json()["total"] == 0
    restored = await fitness.patch(path, json={"enabled": True}, headers=admin.headers)
    assert restored.json()["enabled"] is True
    assert (await fitness.get(path)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {**COURSE, "supported_devices": ["kayak"]},
        {**COURSE, "supported_devices": []},
        {**COURSE, "type": "lecture"},
        {**COURSE, "cover_url": "not a url"},
        {k: v for k, v in COURSE.items() if k != "title"},
    ],
)
async def test_malformed_trainings_are_422(fitness: httpx.AsyncClient, admin: Athlete, body: dict) -> None:
    assert (await fitness.post("/api/v1/trainings", json=body, headers=admin.headers)).status_code == 422
