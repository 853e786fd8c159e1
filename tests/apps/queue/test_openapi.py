"""The queue's OpenAPI document says what the server answers a malformed query parameter: 400,
the spec's code, in FastAPI's list shape (issue 14 item 11)."""

import httpx

from tests.apps.queue.builders import Account

# Every queue route with query parameters, and a malformed value for one of them.
MALFORMED = {
    ("/stores", "get"): {"page": "0"},
    ("/bookings/my-bookings", "get"): {"status": "lost"},
    ("/bookings/received-bookings", "get"): {"limit": "many"},
    ("/chats/{booking_id}/messages", "get"): {"page": "-1"},
    ("/notifications", "get"): {"is_read": "perhaps"},
    ("/events", "get"): {"since": "yesterday-ish"},
    ("/stores/{store_id}/board", "get"): {"limit": "0"},
}


async def test_query_errors_are_documented_as_the_400_they_are(
    queue: httpx.AsyncClient, owner: Account
) -> None:
    document = (await queue.get("/openapi.json")).json()
    with_query = {
        (path, method)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if any(p["in"] == "query" for p in operation.get("parameters", []))
    }
    assert with_query == set(MALFORMED)
    for path, method in with_query:
        responses = document["paths"][path][method]["responses"]
        shape = responses["400"]["content"]["application/json"]["schema"]
        assert shape == {"$ref": "#/components/schemas/HTTPValidationError"}, path
        # A 422 stays only where a path parameter can still be malformed.
        assert ("422" in responses) == ("{" in path), path
    # And the server answers so.
    booking_id = "00000000-0000-0000-0000-000000000000"
    for (path, _method), params in MALFORMED.items():
        url = path.replace("{booking_id}", booking_id).replace("{store_id}", booking_id)
        response = await queue.get(url, params=params, headers=owner.headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["detail"][0]["loc"][0] == "query", path
