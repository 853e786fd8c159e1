"""The baseline for bench/shop.py: the cheapest FastAPI route there is, served by the same
uvicorn settings as keel, so the ratio to it measures keel's own cost per request."""

from fastapi import FastAPI

app = FastAPI()

_BODY = {"status": "ok", "items": [1, 2, 3]}


@app.get("/")
async def index() -> dict[str, object]:
    return _BODY
