from keel.apps.queue.routes import (
    auth,
    bookings,
    chats,
    notifications,
    realtime,
    staff,
    stores,
    upload,
    users,
)

routers = (
    bookings.router,
    stores.router,
    staff.router,
    chats.router,
    notifications.router,
    realtime.router,
    users.router,
    upload.router,
    auth.router,
)
