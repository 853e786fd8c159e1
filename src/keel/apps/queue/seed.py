"""`keel seed`: the admin always; with `demo`, a store owner with a store, three customers
waiting in its line and a short chat. Idempotent: users are matched by email and the store by
owner and name, and the bookings and chat are made only with the store."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.queue.models import Booking, Message, QueueCounter, Store, User
from keel.apps.queue.services import days
from keel.apps.queue.services.accounts import create_user
from keel.core.db import utcnow
from keel.core.security.identity import normalize_email
from keel.settings import Settings

PASSWORD = "password123"
OWNER = ("owner@example.com", "阿明")
CUSTOMERS = [("user@example.com", "張小明"), ("amy@example.com", "Amy"), ("ben@example.com", "Ben")]
STORE = {
    "name": "阿明理髮店",
    "description": "專業理髮服務,20年經驗,提供洗剪吹造型服務",
    "address": "台北市中山區中山北路二段48號",
    "contact_email": "ming.barber@example.com",
}


async def _ensure_user(session: AsyncSession, email: str, name: str, password: str) -> User:
    found = (
        await session.execute(select(User).where(User.email == normalize_email(email)))
    ).scalar_one_or_none()
    return found or await create_user(session, email, name, password)


async def seed(session: AsyncSession, settings: Settings, *, demo: bool) -> None:
    admin = await _ensure_user(session, settings.admin_email, "Admin", settings.admin_password)
    admin.is_admin = True
    if demo:
        await _demo(session, settings.queue_default_time_zone)


async def _demo(session: AsyncSession, time_zone: str) -> None:
    owner = await _ensure_user(session, *OWNER, PASSWORD)
    customers = [await _ensure_user(session, email, name, PASSWORD) for email, name in CUSTOMERS]
    exists = (
        await session.execute(select(Store.id).where(Store.owner_id == owner.id, Store.name == STORE["name"]))
    ).first()
    if exists:
        await session.flush()
        return
    store = Store(owner_id=owner.id, time_zone=time_zone, **STORE)
    session.add(store)
    await session.flush()
    now = utcnow()
    # The store's own date (numbers and the day's end follow it), not UTC's: in Taipei's
    # evening UTC's date is the day before, whose line the day-end sweep would close.
    today = days.local_day(time_zone, now)
    bookings = [
        Booking(
            store_id=store.id,
            user_id=customer.id,
            queue_day=today,
            queue_number=number,
            status="waiting",
            created_at=now + timedelta(seconds=number),
            updated_at=now,
        )
        for number, customer in enumerate(customers, 1)
    ]
    session.add_all(bookings)
    session.add(QueueCounter(store_id=store.id, day=today, last_number=len(bookings)))
    await session.flush()
    session.add_all(
        [
            Message(
                booking_id=bookings[0].id,
                sender_id=customers[0].id,
                content="請問還需要等多久呢?",
                created_at=now,
            ),
            Message(
                booking_id=bookings[0].id,
                sender_id=owner.id,
                content="大約還需要5分鐘,謝謝您的耐心等候!",
                created_at=now + timedelta(seconds=1),
            ),
        ]
    )
    await session.flush()
