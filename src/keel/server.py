"""The ASGI application: every registered app under `/<slug>` (or one app at the root),
`/health`, `/metrics` and the admin console (`/admin`, keel/console) beside them, and CORS and the observability middleware around it all."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from keel.apps import APP_SLUGS, load_app
from keel.console import console_app, to_console
from keel.core.db import Database
from keel.core.errors import install_error_handlers
from keel.core.health import report as health_report
from keel.core.http import Cors
from keel.core.observability import ObservabilityMiddleware, configure_logging, metrics_payload
from keel.core.runtime import tune_garbage_collector
from keel.core.sweeps import stop_sweepers
from keel.settings import Settings, get_settings


def build_server(
    settings: Settings, *, only: str | None = None, databases: dict[str, Database] | None = None
) -> ASGIApp:
    """`only` serves that one app at the root, so a client written against its spec's paths
    works unchanged; otherwise every app is mounted under its slug."""
    slugs = (only,) if only else APP_SLUGS
    registrations = {slug: load_app(slug) for slug in slugs}
    apps: dict[str, FastAPI] = {
        slug: registration.build(settings, (databases or {}).get(slug))
        for slug, registration in registrations.items()
    }

    async def health(_request: Request) -> JSONResponse:
        healthy, report = await health_report(apps)
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "apps": report}, status_code=200 if healthy else 503
        )

    async def metrics(_request: Request) -> Response:
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)

    async def index(_request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "apps": {
                    slug: {"docs": f"/{slug}/docs", "openapi": f"/{slug}/openapi.json"} for slug in apps
                },
                "console": "/admin/",
            }
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Mounted apps get no lifespan of their own from Starlette, so their hooks run here.
        for slug, api in apps.items():
            for hook in registrations[slug].on_startup:
                await hook(api)
        # Each process takes part in every app's sweeps; the lease runs each once per deployment.
        sweepers = [
            registrations[slug].start_sweeper(api.state.database, settings) for slug, api in apps.items()
        ]
        try:
            yield
        finally:
            await stop_sweepers(sweepers)
            for slug, api in apps.items():
                for hook in registrations[slug].on_shutdown:
                    await hook(api)
                await api.state.database.dispose()
                if api.state.redis is not None:
                    await api.state.redis.aclose()

    root: Starlette
    if only:
        # One app alone is the root itself, with /health and /metrics beside its routes: no
        # outer application and mount for every request to pass through.
        root = apps[only]
        root.add_route("/health", health, include_in_schema=False)
        root.add_route("/metrics", metrics, include_in_schema=False)
        # The console calls the app's API at the root, as its spec's clients do.
        root.add_route("/admin", to_console, include_in_schema=False)
        root.mount("/admin", console_app({only: ""}))
        root.router.lifespan_context = lifespan
    else:
        routes = [Route("/health", health), Route("/metrics", metrics), Route("/", index)]
        routes += [
            Route("/admin", to_console),
            Mount("/admin", console_app({slug: f"/{slug}" for slug in apps})),
        ]
        routes += [Mount(f"/{slug}", api) for slug, api in apps.items()]
        root = Starlette(routes=routes, lifespan=lifespan)
        install_error_handlers(root)  # type: ignore[arg-type]
    # CORS outside every app, so its answers (a 500 from an app's last-resort handler too) stay
    # readable by an allowed page, and a preflight never reaches an app's router (405).
    return ObservabilityMiddleware(Cors(root, settings.cors_origins), access_log_enabled=settings.access_log)


def create_app() -> ASGIApp:
    """The factory uvicorn's workers call; `keel serve` passes its choice of app by environment."""
    settings = get_settings()
    configure_logging(settings.log_level)
    server = build_server(settings, only=os.environ.get("KEEL_SERVE_APP") or None)
    tune_garbage_collector()
    return server
