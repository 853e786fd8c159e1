"""The five dimensions of a day (workout, meal, sleep, work, reading): each one's table, bodies
and measure (`DimensionSpec`), the resolver of `/records/{dimension}` (a dimension's name or its
table's, spec 001 section 4.1), and `live`, the condition that leaves deleted records out."""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy.sql.expression import ColumnElement

from keel.apps.coach import schemas
from keel.apps.coach.models import Meal, Reading, Sleep, WorkNote, Workout
from keel.apps.coach.schemas import Dimension
from keel.core.errors import NotFound


@dataclass(frozen=True)
class DimensionSpec:
    name: Dimension
    model: Any
    create: type[schemas.RecordCreate]
    update: type[schemas.RecordUpdate]
    out: type[schemas.RecordOut]
    # The column a record adds to its day's total (None counts as 0).
    measure: str

    # Cached: every create, read and edit asks for them.
    @cached_property
    def columns(self) -> list[Any]:
        """What a client reads: everything but the owner, the day log's internal id and the
        deletion time (only the change feed reads deleted records)."""
        return [c for c in self.model.__table__.c if c.key not in ("user_id", "day_log_id", "deleted_at")]

    @cached_property
    def change(self) -> type[schemas.RecordOut]:
        return schemas.change_of(self.out)

    @property
    def table(self) -> str:
        """Spec 001 section 4.1's name for the dimension's records, an alias of the dimension."""
        return str(self.model.__tablename__)

    @cached_property
    def keys(self) -> tuple[str, ...]:
        return tuple(column.key for column in self.columns)


DIMENSIONS: dict[str, DimensionSpec] = {
    spec.name.value: spec
    for spec in (
        DimensionSpec(
            Dimension.workout,
            Workout,
            schemas.WorkoutCreate,
            schemas.WorkoutUpdate,
            schemas.WorkoutOut,
            "minutes",
        ),
        DimensionSpec(
            Dimension.meal, Meal, schemas.MealCreate, schemas.MealUpdate, schemas.MealOut, "calories"
        ),
        DimensionSpec(
            Dimension.sleep,
            Sleep,
            schemas.SleepCreate,
            schemas.SleepUpdate,
            schemas.SleepOut,
            "duration_minutes",
        ),
        DimensionSpec(
            Dimension.work, WorkNote, schemas.WorkCreate, schemas.WorkUpdate, schemas.WorkOut, "focus_minutes"
        ),
        DimensionSpec(
            Dimension.reading,
            Reading,
            schemas.ReadingCreate,
            schemas.ReadingUpdate,
            schemas.ReadingOut,
            "minutes",
        ),
    )
}


# One resolver for `/records/{dimension}`: each dimension's name and its table's name (4.1).
NAMES: dict[str, DimensionSpec] = DIMENSIONS | {spec.table: spec for spec in DIMENSIONS.values()}


def live(model: Any) -> ColumnElement[bool]:
    """Not deleted: the condition of every read but the change feed."""
    return model.deleted_at.is_(None)  # type: ignore[no-any-return]


def unknown_dimension(name: str) -> NotFound:
    return NotFound(
        f"Unknown dimension {name!r}; the dimensions are: {', '.join(DIMENSIONS)} "
        f"(or their tables: {', '.join(spec.table for spec in DIMENSIONS.values())})"
    )
