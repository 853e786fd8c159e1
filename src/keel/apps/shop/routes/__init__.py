from keel.apps.shop.routes import auth, categories, orders, products, users

# Matched in this order: the busiest resources first.
routers = (products.router, orders.router, categories.router, auth.router, users.router)
