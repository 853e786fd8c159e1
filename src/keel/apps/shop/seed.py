"""`keel seed`: the admin always; with `demo`, a demo shopper, 3 categories and 9 products.
Idempotent: rows are matched by their unique names, so a second run adds nothing."""

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.shop.models import Category, Product, User
from keel.core.security.passwords import hash_password
from keel.settings import Settings

DEMO_USER = ("demo", "user@example.com", "password123")

CATEGORIES = {
    "Apparel": "T-shirts, hoodies and caps",
    "Books": "Handbooks and guides on distributed databases",
    "Accessories": "Stickers, mugs and desk things",
}

PRODUCTS = [
    ("TiDB T-Shirt", "Apparel", "19.99", 120, "Soft cotton tee with the TiDB logo."),
    ("TiDB Hoodie", "Apparel", "49.00", 60, "Warm hoodie for long on-call nights."),
    ("HTAP Cap", "Apparel", "15.50", 80, "Embroidered cap."),
    ("HTAP Handbook", "Books", "35.00", 75, "Hybrid transactional and analytical processing, explained."),
    ("Raft in Practice", "Books", "42.90", 50, "Consensus for engineers who ship."),
    ("Scaling SQL", "Books", "29.95", 90, "Sharding, replicas and distributed transactions."),
    ("Sticker Pack", "Accessories", "4.99", 500, "Ten vinyl stickers."),
    ("Database Mug", "Accessories", "12.00", 150, "Holds 350 ml of coffee."),
    ("Mechanical Keyboard", "Accessories", "89.00", 55, "Hot-swappable, quiet switches."),
]


async def _ensure_user(
    session: AsyncSession, username: str, email: str, password: str, *, is_admin: bool
) -> None:
    if (await session.execute(select(User.id).where(User.email == email))).first():
        return
    session.add(
        User(username=username, email=email, hashed_password=await hash_password(password), is_admin=is_admin)
    )


async def seed(session: AsyncSession, settings: Settings, *, demo: bool) -> None:
    await _ensure_user(session, "admin", settings.admin_email.lower(), settings.admin_password, is_admin=True)
    if demo:
        await _demo(session)


async def _demo(session: AsyncSession) -> None:
    await _ensure_user(session, *DEMO_USER, is_admin=False)
    categories = {c.name: c for c in (await session.scalars(select(Category))).all()}
    for name, description in CATEGORIES.items():
        if name not in categories:
            categories[name] = Category(name=name, description=description)
            session.add(categories[name])
    await session.flush()
    existing = set((await session.scalars(select(Product.name))).all())
    for name, category, price, stock, description in PRODUCTS:
        if name not in existing:
            session.add(
                Product(
                    name=name,
                    description=description,
                    price=Decimal(price),
                    stock=stock,
                    category_id=categories[category].id,
                    image_url=f"https://placehold.co/600x400?text={name.replace(' ', '+')}",
                )
            )
    await session.flush()
