from keel.apps.coach.routes import (
    admin,
    ai,
    auth,
    daylogs,
    files,
    me,
    password,
    push_tokens,
    records,
    settings,
    stats,
)

# Matched in this order: the busiest resources first.
routers = (
    records.router,
    daylogs.router,
    stats.router,
    ai.router,
    settings.router,
    files.router,
    push_tokens.router,
    me.router,
    auth.router,
    password.router,
    admin.router,
)
