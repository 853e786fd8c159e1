"""The registration object each app exports: everything the server and the CLI need to know."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core import redis
from keel.core.db import Database
from keel.core.errors import document_query_errors, install_error_handlers
from keel.core.http import RequestBodies
from keel.core.jobs import JobQueue
from keel.core.retention import Prunable, retention_sweep
from keel.core.security.tokens import TokenService
from keel.core.storage import (
    LocalStorage,
    presigner,
    receive_presigned_upload,
    serve_file,
    serve_presigned_file,
)
from keel.core.sweeps import Sweep, Sweeper
from keel.settings import Settings


class SeedFunction(Protocol):
    """An app's `keel seed`: its admin always; its demo data (sample accounts and content) only
    when `demo` is true, which production never gets unless asked for."""

    def __call__(self, session: AsyncSession, settings: Settings, *, demo: bool) -> Awaitable[None]: ...


Hook = Callable[[FastAPI], Awaitable[None]]


def _document_query_errors(api: FastAPI, status: int) -> None:
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = document_query_errors(generate(), status)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def _operation_id(route: APIRoute) -> str:
    # Stable ids (tag-function) keep generated clients' method names from drifting.
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


@dataclass(frozen=True)
class KeelApp:
    slug: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    metadata: MetaData
    migrations: Path
    seed: SeedFunction | None = None
    version: str = "1.0.0"
    on_startup: Sequence[Hook] = field(default_factory=tuple)
    on_shutdown: Sequence[Hook] = field(default_factory=tuple)
    # Token lifetimes where the app's spec fixes its own; None takes the settings' defaults.
    access_token_minutes: int | None = None
    refresh_token_days: int | None = None
    # A stable `code` beside every error's `detail` (core/errors.py CODES_BY_STATUS).
    error_codes: bool = False
    # The status of a malformed query parameter: FastAPI's 422, or 400 where the spec says so.
    query_error_status: int = 422
    # Durable background jobs, run by `keel worker` (and by the app's own start-up hook).
    jobs: JobQueue | None = None
    # Periodic sweeps, each run once per deployment per interval (core/sweeps.py), and the
    # app's growing tables pruned by age (core/retention.py, its "retention" sweep); both need
    # the app's `SweepLeaseMixin` table.
    sweeps: Sequence[Sweep] = ()
    retention: Sequence[Prunable] = ()
    sweep_lease: Any = None

    def __post_init__(self) -> None:
        if (self.sweeps or self.retention) and self.sweep_lease is None:
            raise ValueError(f"{self.slug}: sweeps need a sweep_lease table (SweepLeaseMixin)")

    def all_sweeps(self) -> tuple[Sweep, ...]:
        return (*self.sweeps, retention_sweep(self.retention)) if self.retention else tuple(self.sweeps)

    def start_sweeper(self, database: Database, settings: Settings) -> Sweeper | None:
        """This process's share of the app's sweeps (`keel serve` and `keel worker` run one each)."""
        sweeps = self.all_sweeps()
        if not sweeps:
            return None
        sweeper = Sweeper(self.slug, self.sweep_lease, sweeps, database, settings)
        sweeper.start()
        return sweeper

    def database(self, settings: Settings) -> Database:
        return Database(
            settings.database_url(self.slug),
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )

    def build(self, settings: Settings, database: Database | None = None) -> FastAPI:
        """The app's own FastAPI instance, with its own OpenAPI, reachable at any mount point."""
        api = FastAPI(
            title=self.title,
            description=self.description,
            version=self.version,
            generate_unique_id_function=_operation_id,
        )
        api.state.slug = self.slug
        api.state.settings = settings
        api.state.database = database or self.database(settings)
        api.state.tokens = TokenService(
            audience=self.slug,
            secret=settings.secret_key,
            access_ttl=timedelta(minutes=self.access_token_minutes or settings.access_token_minutes),
            refresh_ttl=timedelta(days=self.refresh_token_days or settings.refresh_token_days),
            refresh_reuse=timedelta(seconds=settings.refresh_reuse_seconds),
        )
        api.state.error_codes = self.error_codes
        api.state.query_error_status = self.query_error_status
        api.state.storage = LocalStorage(settings.data_dir / "uploads" / self.slug)
        api.state.presigner = presigner(settings, self.slug)
        api.state.redis = redis.connect(settings)
        install_error_handlers(api)
        if self.query_error_status != 422:
            _document_query_errors(api, self.query_error_status)
        # Inside the app, so a refused body is rendered by its handlers (with its error codes).
        api.add_middleware(RequestBodies, max_body_bytes=settings.max_body_bytes)
        for router in self.routers:
            api.include_router(router)
        # Presigned uploads and downloads (local storage); before the catch-all file route.
        api.add_route(
            "/files/presigned",
            receive_presigned_upload,
            methods=["POST"],
            name="presigned_upload",
            include_in_schema=False,
        )
        api.add_route(
            "/files/presigned/{key:path}",
            serve_presigned_file,
            methods=["GET"],
            name="presigned_download",
            include_in_schema=False,
        )
        # Stored files, read-only. Named so `public_url` finds it wherever the app is mounted;
        # kept out of the schema: it serves bytes, not an API operation.
        api.add_route("/files/{key:path}", serve_file, methods=["GET"], name="files", include_in_schema=False)
        return api
