from keel.apps.badge.routes import (
    alerts,
    auth,
    broker,
    configs,
    devices,
    error_codes,
    logs,
    modules,
    versions,
)

# Matched in this order: the busiest resources (device ingest, update checks) first.
routers = (
    devices.router,
    versions.router,
    logs.router,
    configs.router,
    modules.router,
    error_codes.router,
    alerts.router,
    auth.router,
    broker.router,
)
