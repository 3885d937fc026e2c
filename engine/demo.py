"""Demo data: every plugin contributes its share through ``tierflow_load_demo_data``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.model import Base
from engine.plugins import PluginManager

M = TypeVar("M", bound=Base)


def get_or_create(
    session: Session, model: type[M], defaults: Mapping[str, Any] | None = None, **lookup: Any
) -> tuple[M, bool]:
    """Return the row of ``model`` matching ``lookup``, creating it with ``defaults`` if absent.

    The second value says whether the row was created. Demo loaders use this so
    that loading twice adds nothing.
    """
    row = session.scalars(select(model).filter_by(**lookup)).one_or_none()
    if row is not None:
        return row, False
    row = model(**lookup, **(defaults or {}))
    session.add(row)
    session.flush()
    return row, True


def load_demo_data(pm: PluginManager, sessions: sessionmaker[Session]) -> dict[str, int]:
    """Run every plugin's demo loader in one transaction; return rows added per table."""
    with sessions() as session, session.begin():
        before = _counts(session)
        pm.call("tierflow_load_demo_data", session=session)
        session.flush()
        after = _counts(session)
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def _counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }
