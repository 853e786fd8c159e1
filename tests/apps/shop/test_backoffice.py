"""The back office: an admin's GET /api/orders lists every customer's orders, filtered."""

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.apps.shop import builders
from tests.apps.shop.builders import Account

ORDERS = "/api/orders"


async def place(
    shop: httpx.AsyncClient, buyer: Account, product: dict[str, Any], quantity: int = 1
) -> dict[str, Any]:
    response = await builders.order(shop, buyer, (product["id"], quantity))
    assert response.status_code == 201, response.text
    return response.json()


async def listed(
    shop: httpx.AsyncClient, viewer: Account, **params: Any
) -> tuple[list[tuple[int, int]], int]:
    """(id, user_id) of the orders listed, and the X-Total-Count header."""
    response = await shop.get(ORDERS, params=params, headers=viewer.headers)
    assert response.status_code == 200, response.text
    return [(order["id"], order["user_id"]) for order in response.json()], int(
        response.headers["X-Total-Count"]
    )


async def test_an_admin_lists_every_customers_orders_newest_first(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin)
    first = await place(shop, buyer, tee, 2)
    second = await place(shop, other, tee)
    third = await place(shop, buyer, tee)
    response = await shop.get(ORDERS, headers=admin.headers)
    assert response.status_code == 200
    assert [(o["id"], o["user_id"], o["item_count"]) for o in response.json()] == [
        (third["id"], buyer.id, 1),
        (second["id"], other.id, 1),
        (first["id"], buyer.id, 2),
    ]
    assert response.headers["X-Total-Count"] == "3"
    # The admin's own list as a customer is the same list: none of these are the admin's.
    assert (await listed(shop, admin, user_id=admin.id)) == ([], 0)


async def test_user_id_picks_one_customers_orders(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin)
    mine = [await place(shop, buyer, tee) for _ in range(2)]
    await place(shop, other, tee)
    assert await listed(shop, admin, user_id=buyer.id) == ([(o["id"], buyer.id) for o in reversed(mine)], 2)
    assert await listed(shop, admin, user_id=999_999) == ([], 0)


async def test_status_filters_and_pending_is_pending_payment_for_everyone(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin)
    unpaid = await place(shop, buyer, tee)
    paid = await place(shop, buyer, tee)
    assert (await shop.post(f"{ORDERS}/{paid['id']}/pay", headers=buyer.headers)).status_code == 200
    others_unpaid = await place(shop, other, tee)

    assert await listed(shop, admin, status="paid") == ([(paid["id"], buyer.id)], 1)
    everyones_unpaid = ([(others_unpaid["id"], other.id), (unpaid["id"], buyer.id)], 2)
    assert await listed(shop, admin, status="pending_payment") == everyones_unpaid
    assert await listed(shop, admin, status="pending") == everyones_unpaid
    assert await listed(shop, buyer, status="pending") == ([(unpaid["id"], buyer.id)], 1)
    bad = await shop.get(ORDERS, params={"status": "lost"}, headers=admin.headers)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "status"]


def at(order: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(order["created_at"])


async def test_created_from_is_inclusive_and_created_to_exclusive(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin)
    first, second, third = [await place(shop, customer, tee) for customer in (buyer, other, buyer)]
    assert at(first) < at(second) < at(third)
    start = at(second).isoformat()
    assert await listed(shop, admin, created_from=start) == (
        [(third["id"], buyer.id), (second["id"], other.id)],
        2,
    )
    assert await listed(shop, admin, created_to=start) == ([(first["id"], buyer.id)], 1)
    assert await listed(shop, admin, created_from=start, created_to=at(third).isoformat()) == (
        [(second["id"], other.id)],
        1,
    )
    # The same instant written in Taipei's time, and without a zone (taken as UTC).
    taipei = at(second).astimezone(timezone(timedelta(hours=8))).isoformat()
    assert (await listed(shop, admin, created_from=taipei))[1] == 2
    naive = at(second).replace(tzinfo=None).isoformat()
    assert (await listed(shop, admin, created_to=naive))[1] == 1
    # Combined with the customer: one of buyer's two orders is in the range.
    assert await listed(shop, admin, created_from=start, user_id=buyer.id) == ([(third["id"], buyer.id)], 1)


async def test_a_bad_date_or_range_is_refused_with_a_detail(shop: httpx.AsyncClient, admin: Account) -> None:
    malformed = await shop.get(ORDERS, params={"created_from": "yesterday"}, headers=admin.headers)
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["query", "created_from"]
    backwards = await shop.get(
        ORDERS,
        params={"created_from": "2026-12-02T00:00:00Z", "created_to": "2026-12-01T00:00:00Z"},
        headers=admin.headers,
    )
    assert backwards.status_code == 400
    assert backwards.json() == {"detail": "created_from must not be after created_to"}


async def test_the_total_is_the_filtered_total_on_every_page(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin)
    for customer in (buyer, other, buyer, other, buyer):
        await place(shop, customer, tee)
    pages = [await listed(shop, admin, user_id=buyer.id, skip=skip, limit=2) for skip in (0, 2, 4)]
    assert [len(ids) for ids, _ in pages] == [2, 1, 0]
    assert {total for _, total in pages} == {3}
    every = [await listed(shop, admin, skip=skip, limit=2) for skip in (0, 2, 4, 6)]
    assert [len(ids) for ids, _ in every] == [2, 2, 1, 0]
    assert {total for _, total in every} == {5}
    # The pages together are the list, each order once.
    assert len({order for ids, _ in every for order in ids}) == 5


async def test_a_customer_sees_only_their_own_and_not_another_users_by_user_id(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin)
    mine = await place(shop, buyer, tee)
    await place(shop, other, tee)
    assert await listed(shop, buyer) == ([(mine["id"], buyer.id)], 1)
    assert await listed(shop, buyer, user_id=buyer.id) == ([(mine["id"], buyer.id)], 1)
    refused = await shop.get(ORDERS, params={"user_id": other.id}, headers=buyer.headers)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only an admin can list another user's orders"}
    assert (await shop.get(ORDERS)).status_code == 401


async def test_an_admin_reads_any_customers_order_and_a_customer_does_not(
    shop: httpx.AsyncClient, admin: Account, buyer: Account
) -> None:
    other = await builders.account(shop)
    tee = await builders.product(shop, admin)
    order = await place(shop, buyer, tee, 3)
    detail = await shop.get(f"{ORDERS}/{order['id']}", headers=admin.headers)
    assert detail.status_code == 200
    assert (detail.json()["user_id"], detail.json()["items"][0]["quantity"]) == (buyer.id, 3)
    hidden = await shop.get(f"{ORDERS}/{order['id']}", headers=other.headers)
    assert hidden.status_code == 404
