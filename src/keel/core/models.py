"""The declarative base each app declares its tables on."""

from typing import Any

from sqlalchemy.orm import DeclarativeBase

from keel.core.db import TYPE_ANNOTATION_MAP, new_metadata


class TableBase:
    """Mixed into an app's base, `class Base(TableBase, DeclarativeBase)`: the core's column
    types (UTC datetimes, JSON), and metadata of the app's own with the core's constraint
    names, so each app's tables live in its own database and migrate alone."""

    type_annotation_map = TYPE_ANNOTATION_MAP

    def __init_subclass__(cls, **kw: Any) -> None:
        # Before DeclarativeBase's own hook (next in the MRO) builds the registry from it.
        if DeclarativeBase in cls.__bases__:
            cls.metadata = new_metadata()
        super().__init_subclass__(**kw)
