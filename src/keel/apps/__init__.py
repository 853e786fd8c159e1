"""The registry of apps. Only the server and the CLI look here; the core never does."""

import importlib

from keel.core.app import KeelApp

APP_SLUGS: tuple[str, ...] = ("shop", "fitness", "coach", "queue", "badge")


def load_app(slug: str) -> KeelApp:
    if slug not in APP_SLUGS:
        raise KeyError(f"unknown app {slug!r}; the apps are: {', '.join(APP_SLUGS)}")
    return importlib.import_module(f"keel.apps.{slug}").app
