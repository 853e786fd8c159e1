"""The admin console at /admin: its built files, the page for every other /admin path (the
console routes in the browser), its config in both ways of serving, and a clear answer when it
was never built."""

from pathlib import Path

import httpx

from keel.console import NOT_BUILT, console_app
from keel.server import build_server
from keel.settings import Settings

PAGE = "<!doctype html><div id=app></div>"


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://keel.test")  # type: ignore[arg-type]


def built(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(PAGE)
    (dist / "assets" / "index-abc123.js").write_text("console.log('keel')")
    (tmp_path / "secret.txt").write_text("outside the build")
    return dist


async def test_built_files_are_served_and_every_other_path_is_the_page(tmp_path: Path) -> None:
    async with client(console_app({"shop": "/shop"}, built(tmp_path))) as console:
        page = await console.get("/")
        assert page.status_code == 200 and page.text == PAGE
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        script = await console.get("/assets/index-abc123.js")
        assert script.text == "console.log('keel')"
        assert "immutable" in script.headers["cache-control"]
        # A bookmarked page of the console's own routing is the page, to route in the browser.
        for path in ("/shop/products", "/shop/orders", "/shop/orders/", "/no/such/section"):
            response = await console.get(path)
            assert (response.status_code, response.text) == (200, PAGE), path
        # A missing asset is a 404, not the page (which the browser would fail to run as a script).
        missing = await console.get("/assets/gone-000.js")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
        # Nothing outside the build is reachable.
        for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"):
            response = await console.get(path)
            assert "outside the build" not in response.text, path


async def test_without_a_build_the_console_says_how_to_build_it(tmp_path: Path) -> None:
    async with client(console_app({"shop": "/shop"}, tmp_path / "missing")) as console:
        for path in ("/", "/shop/products"):
            response = await console.get(path)
            assert response.status_code == 503
            assert response.json() == {"detail": NOT_BUILT}
        assert "npm run build" in NOT_BUILT and "make install" in NOT_BUILT
        # The page's config needs no build.
        assert (await console.get("/config.json")).json() == {"apps": {"shop": {"api": "/shop"}}}


async def test_the_server_tells_the_console_where_each_api_is(settings: Settings) -> None:
    async with client(build_server(settings)) as mounted:
        config = (await mounted.get("/admin/config.json")).json()
        assert config["apps"]["shop"] == {"api": "/shop"}
        assert set(config["apps"]) == {"shop", "fitness", "coach", "queue", "badge"}
        redirect = await mounted.get("/admin")
        assert (redirect.status_code, redirect.headers["location"]) == (308, "/admin/")
        assert (await mounted.get("/")).json()["console"] == "/admin/"
        # The API beside it is unchanged.
        assert "/api/products" in (await mounted.get("/shop/openapi.json")).json()["paths"]
    async with client(build_server(settings, only="shop")) as alone:
        # One app at the root: its API is there, so the console calls it without a prefix.
        assert (await alone.get("/admin/config.json")).json() == {"apps": {"shop": {"api": ""}}}
        assert (await alone.get("/admin")).headers["location"] == "/admin/"
        paths = (await alone.get("/openapi.json")).json()["paths"]
        assert "/api/products" in paths and not any(path.startswith("/admin") for path in paths)
