import httpx

from tests.apps.shop import builders
from tests.apps.shop.builders import Account


async def create(shop: httpx.AsyncClient, admin: Account, **body: object) -> httpx.Response:
    return await shop.post("/api/categories", json=body, headers=admin.headers)


async def test_an_empty_list_is_an_empty_array(shop: httpx.AsyncClient) -> None:
    response = await shop.get("/api/categories")
    assert response.status_code == 200
    assert response.json() == []


async def test_admin_creates_with_201_and_the_list_is_ordered_by_name(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    response = await create(shop, admin, name="Clothing", description="Things to wear")
    assert response.status_code == 201
    clothing = response.json()
    assert clothing == {"id": clothing["id"], "name": "Clothing", "description": "Things to wear"}
    books = await builders.category(shop, admin, "Books")
    assert books == {"id": books["id"], "name": "Books", "description": None}
    accessories = await builders.category(shop, admin, "Accessories")

    listed = await shop.get("/api/categories")
    assert listed.status_code == 200
    assert listed.json() == [accessories, books, clothing]


async def test_create_strips_the_name(shop: httpx.AsyncClient, admin: Account) -> None:
    response = await create(shop, admin, name="  Garden  ")
    assert response.status_code == 201
    assert response.json()["name"] == "Garden"
    assert (await create(shop, admin, name="Garden")).status_code == 409


async def test_get_one_category_and_404_for_an_unknown_one(shop: httpx.AsyncClient, admin: Account) -> None:
    made = (await create(shop, admin, name="Books", description="Paper")).json()
    response = await shop.get(f"/api/categories/{made['id']}")
    assert response.status_code == 200
    assert response.json() == {"id": made["id"], "name": "Books", "description": "Paper"}

    missing = await shop.get("/api/categories/999999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Category 999999 not found"}
    for bad in (str(2**31), "0", "books"):
        response = await shop.get(f"/api/categories/{bad}")
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["path", "category_id"]


async def test_a_duplicate_name_is_409(shop: httpx.AsyncClient, admin: Account) -> None:
    first = await builders.category(shop, admin, "Books")
    for name in ("Books", "books", "BOOKS"):
        # One category whatever the case, on every dialect.
        response = await create(shop, admin, name=name, description="again")
        assert response.status_code == 409, name
        assert isinstance(response.json()["detail"], str)
        assert name in response.json()["detail"]
    assert (await shop.get("/api/categories")).json() == [first]


async def test_a_blank_or_missing_name_is_422(shop: httpx.AsyncClient, admin: Account) -> None:
    for body in (
        {"name": ""},
        {"name": "   "},
        {},
        {"name": None},
        {"name": "a" * 256},
        {"name": "Bo\x00oks"},
    ):
        response = await shop.post("/api/categories", json=body, headers=admin.headers)
        assert response.status_code == 422, body
        detail = response.json()["detail"]
        assert isinstance(detail, list)
        assert detail[0]["loc"] == ["body", "name"], body
    assert (await shop.get("/api/categories")).json() == []


async def test_admin_renames_and_redescribes(shop: httpx.AsyncClient, admin: Account) -> None:
    made = (await create(shop, admin, name="Bookz", description="Paper")).json()
    path = f"/api/categories/{made['id']}"

    renamed = await shop.put(path, json={"name": "Books"}, headers=admin.headers)
    assert renamed.status_code == 200
    assert renamed.json() == {"id": made["id"], "name": "Books", "description": "Paper"}

    described = await shop.put(path, json={"description": "Paper and ink"}, headers=admin.headers)
    assert described.status_code == 200
    assert described.json() == {"id": made["id"], "name": "Books", "description": "Paper and ink"}

    # Its own name again is not a conflict.
    same = await shop.put(path, json={"name": "Books"}, headers=admin.headers)
    assert same.status_code == 200

    assert (await shop.get(path)).json() == {
        "id": made["id"],
        "name": "Books",
        "description": "Paper and ink",
    }
    assert (await shop.get("/api/categories")).json() == [described.json()]


async def test_the_new_name_shows_on_its_products(shop: httpx.AsyncClient, admin: Account) -> None:
    made = await builders.category(shop, admin, "Bookz")
    product = await builders.product(shop, admin, category_id=made["id"])
    await shop.put(f"/api/categories/{made['id']}", json={"name": "Books"}, headers=admin.headers)
    detail = (await shop.get(f"/api/products/{product['id']}")).json()
    assert detail["category"] == {"id": made["id"], "name": "Books", "description": None}
    listed = await shop.get("/api/products", params={"category": "Books"})
    assert [p["id"] for p in listed.json()] == [product["id"]]
    assert (await shop.get("/api/products", params={"category": "Bookz"})).json() == []


async def test_renaming_to_a_taken_name_is_409_and_changes_nothing(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    books = await builders.category(shop, admin, "Books")
    toys = await builders.category(shop, admin, "Toys")
    response = await shop.put(
        f"/api/categories/{toys['id']}", json={"name": "Books", "description": "x"}, headers=admin.headers
    )
    assert response.status_code == 409
    assert "Books" in response.json()["detail"]
    assert (await shop.get("/api/categories")).json() == [books, toys]


async def test_update_refuses_a_blank_name_and_an_unknown_id(shop: httpx.AsyncClient, admin: Account) -> None:
    books = await builders.category(shop, admin, "Books")
    for body in ({"name": ""}, {"name": "  "}, {"name": None}, {"description": "nul\x00"}):
        response = await shop.put(f"/api/categories/{books['id']}", json=body, headers=admin.headers)
        assert response.status_code == 422, body
    missing = await shop.put("/api/categories/999999", json={"name": "Other"}, headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Category 999999 not found"}
    assert (await shop.get("/api/categories")).json() == [books]


async def test_delete_is_204_and_its_products_stay_on_sale_uncategorised(
    shop: httpx.AsyncClient, admin: Account
) -> None:
    books = await builders.category(shop, admin, "Books")
    toys = await builders.category(shop, admin, "Toys")
    novel = await builders.product(shop, admin, category_id=books["id"])
    atlas = await builders.product(shop, admin, category_id=books["id"])
    kite = await builders.product(shop, admin, category_id=toys["id"])

    response = await shop.delete(f"/api/categories/{books['id']}", headers=admin.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (await shop.get(f"/api/categories/{books['id']}")).status_code == 404
    assert (await shop.get("/api/categories")).json() == [toys]

    listed = (await shop.get("/api/products")).json()
    assert [(p["id"], p["category_id"]) for p in listed] == [
        (novel["id"], None),
        (atlas["id"], None),
        (kite["id"], toys["id"]),
    ]
    detail = (await shop.get(f"/api/products/{novel['id']}")).json()
    assert (detail["category_id"], detail["category"]) == (None, None)
    assert (await shop.get("/api/products", params={"category": "Books"})).json() == []

    again = await shop.delete(f"/api/categories/{books['id']}", headers=admin.headers)
    assert again.status_code == 404
    # The name is free again.
    assert (await create(shop, admin, name="Books")).status_code == 201


async def test_writes_need_an_admin(shop: httpx.AsyncClient, admin: Account, buyer: Account) -> None:
    books = await builders.category(shop, admin, "Books")
    path = f"/api/categories/{books['id']}"
    for headers, status in (({}, 401), (buyer.headers, 403)):
        responses = (
            await shop.post("/api/categories", json={"name": "Toys"}, headers=headers),
            await shop.put(path, json={"name": "Hacked"}, headers=headers),
            await shop.delete(path, headers=headers),
        )
        for response in responses:
            assert response.status_code == status, response.request.method
            assert isinstance(response.json()["detail"], str)
    assert (await shop.get("/api/categories")).json() == [books]
