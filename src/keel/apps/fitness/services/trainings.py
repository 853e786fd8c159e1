"""The course library: what the app lists and plays, and what the back office edits."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import Training
from keel.apps.fitness.schemas import TrainingCreate, TrainingType, TrainingUpdate
from keel.core.db import Executor
from keel.core.errors import NotFound
from keel.core.pagination import PageRequest, fetch_page
from keel.core.sql import json_array_contains

_SUMMARY = (
    Training.id,
    Training.title,
    Training.type,
    Training.cover_url,
    Training.video_url,
    Training.supported_devices,
    Training.enabled,
)


async def list_trainings(
    db: Executor,
    page: PageRequest,
    *,
    device_type: str | None,
    training_type: TrainingType | None,
    enabled: bool | None,
) -> tuple[list[dict[str, Any]], int]:
    """Courses oldest first; `enabled` None lists disabled ones too (the back office)."""
    conditions = []
    if enabled is not None:
        conditions.append(Training.enabled.is_(enabled))
    if device_type is not None:
        conditions.append(json_array_contains(Training.supported_devices, device_type))
    if training_type is not None:
        conditions.append(Training.type == training_type)
    rows, total = await fetch_page(db, select(*_SUMMARY).where(*conditions).order_by(Training.id), page)
    return [dict(row._mapping) for row in rows], total


async def get_training(db: Executor, training_id: int, *, include_disabled: bool) -> dict[str, Any]:
    statement = select(*Training.__table__.columns).where(Training.id == training_id)
    if not include_disabled:
        statement = statement.where(Training.enabled.is_(True))
    row = (await db.execute(statement)).mappings().first()
    if row is None:
        raise NotFound("Training not found")
    return dict(row)


async def create_training(session: AsyncSession, data: TrainingCreate) -> dict[str, Any]:
    training = Training(**data.model_dump())
    session.add(training)
    await session.flush()
    return await get_training(session, training.id, include_disabled=True)


async def update_training(session: AsyncSession, training_id: int, data: TrainingUpdate) -> dict[str, Any]:
    training = await session.get(Training, training_id)
    if training is None:
        raise NotFound("Training not found")
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(training, field, value)
    await session.flush()
    return await get_training(session, training_id, include_disabled=True)
