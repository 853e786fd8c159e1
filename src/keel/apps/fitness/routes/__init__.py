from keel.apps.fitness.routes import auth, meta, trainings, users

# Matched in this order: the busiest resources first.
routers = (trainings.router, users.router, meta.router, auth.router)
