from keel.apps.coach.routes import auth, daylogs, me, records, settings

# Matched in this order: the busiest resources first.
routers = (
    records.router,
    daylogs.router,
    settings.router,
    me.router,
    auth.router,
)
