from keel.apps.shop.routes import auth, categories, orders, products, users

routers = (auth.router, users.router, categories.router, products.router, orders.router)
