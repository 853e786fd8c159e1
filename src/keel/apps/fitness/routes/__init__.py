from keel.apps.fitness.routes import (
    admin,
    auth,
    avatar,
    meta,
    password_reset,
    sessions,
    sso,
    trainings,
    users,
)

# Matched in this order: the busiest resources first.
routers = (
    sessions.router,
    trainings.router,
    users.router,
    avatar.router,
    meta.router,
    auth.router,
    password_reset.router,
    sso.router,
    admin.router,
)
