"""`keel` / `python -m keel`: serve, migrate, seed, worker, openapi."""

import asyncio
import json
import logging
import os
import shutil
from typing import Annotated

import typer

from keel.apps import APP_SLUGS, load_app
from keel.core.migrations import upgrade
from keel.core.observability import configure_logging
from keel.settings import DEFAULT_ADMIN_PASSWORD, get_settings

app = typer.Typer(help="keel: the backend for five apps, one shared core.", no_args_is_help=True)
log = logging.getLogger("keel.cli")

AppOption = Annotated[
    str | None, typer.Option("--app", help=f"One of: {', '.join(APP_SLUGS)}. Default: all.")
]


def _slugs(slug: str | None) -> tuple[str, ...]:
    if slug is None:
        return APP_SLUGS
    if slug not in APP_SLUGS:
        raise typer.BadParameter(f"unknown app {slug!r}; the apps are: {', '.join(APP_SLUGS)}")
    return (slug,)


@app.command()
def migrate(slug: AppOption = None) -> None:
    """Apply every app's migrations (or one app's) to its database."""
    settings = get_settings()
    configure_logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for name in _slugs(slug):
        upgrade(load_app(name), settings.database_url(name))
        log.info("migrated", extra={"app": name})


@app.command()
def seed(
    slug: AppOption = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo", help="Add the demo accounts and content. Default: only in development."
        ),
    ] = None,
) -> None:
    """Create the admin account, plus demo data in development; running it twice changes nothing."""
    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.env == "production" and settings.admin_password == DEFAULT_ADMIN_PASSWORD:
        # Refused before anything is written: an admin whose password is in the README is an
        # open door, and one seeded with it stays after the variable is set (seeding skips it).
        typer.echo("refusing to seed: set KEEL_ADMIN_PASSWORD to a private value in production", err=True)
        raise typer.Exit(code=1)
    with_demo = settings.env == "development" if demo is None else demo

    async def run() -> None:
        for name in _slugs(slug):
            registration = load_app(name)
            if registration.seed is None:
                continue
            database = registration.database(settings)
            try:
                async with database.sessionmaker() as session:
                    await registration.seed(session, settings, demo=with_demo)
                    await session.commit()
            finally:
                await database.dispose()
            log.info("seeded", extra={"app": name, "demo": with_demo})

    asyncio.run(run())


@app.command()
def serve(
    slug: AppOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Serve every app under /<slug>, or one app at the root with --app."""
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_level)
    slugs = _slugs(slug)
    for name in slugs:
        # SQLite needs no operator, so keel brings its schema up to date by itself.
        if settings.database_url(name).startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            upgrade(load_app(name), settings.database_url(name))
    if slug:
        os.environ["KEEL_SERVE_APP"] = slug
    if workers > 1:
        # Each worker counts its own requests; prometheus_client adds them up from this folder.
        metrics_dir = settings.data_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    uvicorn.run(
        "keel.server:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        # X-Forwarded-For names the client only when it comes from a proxy the operator listed:
        # anyone else could write any address there and dodge per-address limits.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies,
        # Realtime events are a few hundred bytes of JSON: compressing each one cost the server
        # (and the phone) more CPU than the bytes it saved, a thousand times per queue change.
        ws_per_message_deflate=False,
    )


@app.command()
def worker(slug: AppOption = None) -> None:
    """Run background jobs and periodic sweeps (every app's, or one app's) until SIGTERM or
    Ctrl-C; start as many as needed, on any machine that reaches the databases."""
    import signal

    from keel.core.jobs import Worker
    from keel.core.sweeps import stop_sweepers

    settings = get_settings()
    configure_logging(settings.log_level)
    registrations = [load_app(name) for name in _slugs(slug)]
    registrations = [each for each in registrations if each.jobs or each.sweeps or each.retention]
    if not registrations:
        raise typer.BadParameter("none of these apps has background jobs or sweeps")

    async def run() -> None:
        databases = [registration.database(settings) for registration in registrations]
        workers = [
            Worker(registration.jobs, database, settings)
            for registration, database in zip(registrations, databases, strict=True)
            if registration.jobs
        ]
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        for each in workers:
            each.start()
        sweepers = [
            registration.start_sweeper(database, settings)
            for registration, database in zip(registrations, databases, strict=True)
        ]
        log.info("worker started", extra={"apps": [registration.slug for registration in registrations]})
        await stopping.wait()
        await stop_sweepers(sweepers)
        await asyncio.gather(*(each.stop() for each in workers))
        for database in databases:
            await database.dispose()

    asyncio.run(run())


@app.command()
def openapi(slug: Annotated[str, typer.Argument(help="The app whose OpenAPI document to print")]) -> None:
    """Print one app's OpenAPI document as JSON."""
    _slugs(slug)
    api = load_app(slug).build(get_settings())
    typer.echo(json.dumps(api.openapi(), indent=2, ensure_ascii=False))
