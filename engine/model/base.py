"""The declarative base every Tierflow table derives from, its column types and mixins.

Core tables (``engine.model``) and each plugin's tables (``plugins.<name>.models``)
share this one ``Base`` and so one ``MetaData``. Its naming convention gives every
index and constraint a stable name whichever module declares it, which Alembic
needs to alter or drop them later.

Datetimes are always timezone-aware UTC in Python: annotate a column
``Mapped[datetime]`` and it is stored through :class:`UTCDateTime`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, MetaData, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from temporalio import activity

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_RECORDED_AT: ContextVar[datetime | None] = ContextVar("tierflow_recorded_at", default=None)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime: the default of every timestamp column.

    Inside :func:`recorded_at` it is that moment; in a Temporal activity it is
    the start of the activity's attempt, the run's own clock (so a run on the
    time-skipping test server writes its rows at the times the run saw, as its
    events are); elsewhere the wall clock.
    """
    fixed = _RECORDED_AT.get()
    if fixed is not None:
        return fixed
    if activity.in_activity():
        return activity.info().started_time.astimezone(UTC)
    return datetime.now(UTC)


@contextmanager
def recorded_at(moment: datetime) -> Iterator[None]:
    """Rows and events written in this context (and threads it starts) are stamped ``moment``.

    For what happened before it is written down: a call logged after it was
    taken, history replayed from elsewhere, the demo's simulated past.
    """
    if moment.tzinfo is None:
        raise ValueError(f"recorded_at needs an aware datetime, got {moment.isoformat()}")
    token = _RECORDED_AT.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _RECORDED_AT.reset(token)


class UTCDateTime(TypeDecorator[datetime]):
    """A ``TIMESTAMP WITH TIME ZONE`` that only ever holds aware UTC datetimes.

    Naive datetimes are refused on the way in (``ValueError``): their meaning
    depends on the machine that made them. Values come back aware in UTC on every
    database, including SQLite, which stores no offset (values are normalised to
    UTC before storing, so they also sort and compare correctly there).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__} {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given for a UTC column; "
                "pass an aware datetime such as datetime.now(UTC)"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDict = MutableDict.as_mutable(JSON().with_variant(JSONB(), "postgresql"))
"""A JSON object column (``JSONB`` on PostgreSQL) whose top-level keys track changes.

``item.custom["asset"] = "LT-042"`` marks the row dirty; changes nested deeper
need ``flag_modified`` or assigning a new dict.
"""


class Base(DeclarativeBase):
    """The one declarative base of Tierflow: core and plugin tables share its metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDict,
    }


class IdMixin:
    """An integer surrogate primary key, ``id``."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-100)


class CreatedAtMixin:
    """``created_at``: when the row was inserted (UTC)."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow, sort_order=100)


class TimestampMixin(CreatedAtMixin):
    """``created_at`` and ``updated_at`` (UTC), the latter refreshed on every ORM update."""

    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, sort_order=101)
