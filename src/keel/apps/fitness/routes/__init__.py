from keel.apps.fitness.routes import auth, meta, sessions, trainings, users

# Matched in this order: the busiest resources first.
routers = (sessions.router, trainings.router, users.router, meta.router, auth.router)
