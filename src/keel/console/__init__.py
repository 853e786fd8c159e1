"""The admin console at `/admin`: the Vue app built from `console/` into `dist/` here, served as
static files, with `index.html` for every other `/admin/...` path (the console routes in the
browser, so `/admin/shop/orders` can be bookmarked). `/admin/config.json` tells the page which
apps this server serves and at which prefix. Without a build the API runs and `/admin` says how
to build the console."""

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

DIST = Path(__file__).parent / "dist"

NOT_BUILT = (
    "The admin console is not built: install Node.js with npm and run `make install` "
    "(or `cd console && npm ci && npm run build`); the API runs without it."
)

# Vite names built assets by their content hash, so a browser may keep them for good; the page
# itself is asked for again, so a new build's asset names are picked up.
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
REVALIDATE = {"Cache-Control": "no-cache"}


def console_app(api_prefixes: dict[str, str], dist: Path = DIST) -> Starlette:
    """`api_prefixes` maps each served app's slug to where its API is: `/shop` mounted, `` at the root."""
    root = dist.resolve()

    async def config(_request: Request) -> JSONResponse:
        return JSONResponse(
            {"apps": {slug: {"api": prefix} for slug, prefix in api_prefixes.items()}}, headers=REVALIDATE
        )

    async def page(request: Request) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return JSONResponse({"detail": NOT_BUILT}, status_code=503)
        wanted = (root / request.path_params["path"]).resolve()
        if wanted.is_relative_to(root) and wanted.is_file():
            return FileResponse(wanted, headers=IMMUTABLE if wanted.parent.name == "assets" else REVALIDATE)
        if request.path_params["path"].startswith("assets/"):
            # A missing script or stylesheet answered with the page would fail as a MIME error.
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return FileResponse(index, headers=REVALIDATE)

    return Starlette(routes=[Route("/config.json", config), Route("/{path:path}", page)])


async def to_console(_request: Request) -> RedirectResponse:
    """`/admin` itself: the page's relative asset paths need the trailing slash."""
    return RedirectResponse("/admin/", status_code=308)
