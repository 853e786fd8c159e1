"""What /health checks: every dependency each app is configured with (its database, Redis when
KEEL_REDIS_URL is set, and what the app registers itself, such as badge's MQTT broker), all at
once, each timed and bounded, so one that hangs makes the answer a prompt 503, not a hang."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

Check = Callable[[], Awaitable[object]]
# Longer than any healthy answer, shorter than a load balancer's or compose's probe timeout (4 s).
CHECK_TIMEOUT_SECONDS = 2.5


def register(api: FastAPI, name: str, check: Check) -> None:
    """A dependency of the app's own beyond its database and Redis: `check` raises when it is down."""
    if not hasattr(api.state, "health_checks"):
        api.state.health_checks = {}
    api.state.health_checks[name] = check


def _checks(api: FastAPI) -> dict[str, Check]:
    checks: dict[str, Check] = {"database": api.state.database.ping}
    if api.state.redis is not None:
        checks["redis"] = api.state.redis.ping
    return checks | getattr(api.state, "health_checks", {})


async def _timed(check: Check) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        status = "ok"
    except Exception as error:  # a health check reports failures, it never raises them
        # The type only: /health is public, and a message can carry a host or a user name.
        status = f"error: {type(error).__name__}"
    return status, round((time.perf_counter() - started) * 1000, 2)


async def report(apps: dict[str, FastAPI]) -> tuple[bool, dict[str, dict[str, object]]]:
    """Healthy when every check of every app is; per app, each dependency's status
    (`ok` or `error: <type>`), its dialect, and each check's time in `latency_ms`."""
    checks = [(slug, name, check) for slug, api in apps.items() for name, check in _checks(api).items()]
    results = await asyncio.gather(*(_timed(check) for _, _, check in checks))
    latencies: dict[str, dict[str, float]] = {slug: {} for slug in apps}
    entries: dict[str, dict[str, object]] = {
        slug: {"dialect": api.state.database.dialect, "latency_ms": latencies[slug]}
        for slug, api in apps.items()
    }
    for (slug, name, _), (status, milliseconds) in zip(checks, results, strict=True):
        entries[slug][name] = status
        latencies[slug][name] = milliseconds
    return all(status == "ok" for status, _ in results), entries
