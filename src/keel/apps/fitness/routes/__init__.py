from keel.apps.fitness.routes import auth, users

# Matched in this order: the busiest resources first.
routers = (users.router, auth.router)
