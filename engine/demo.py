"""Demo data: every plugin contributes its share through ``tierflow_load_demo_data``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.model import Base, Membership, Person, Team, WorkItem
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


def ensure_team(session: Session, slug: str, **fields: Any) -> Team:
    """The team with ``slug``, created with ``fields`` if it does not exist yet."""
    team, _ = get_or_create(session, Team, slug=slug, defaults=fields)
    return team


def ensure_person(
    session: Session,
    email: str,
    *,
    roles: set[str] | frozenset[str] = frozenset(),
    teams: Mapping[str, str] | None = None,
    **fields: Any,
) -> Person:
    """The person with ``email``, created with ``fields``; adds missing roles and memberships.

    ``teams`` maps team slugs (which must exist) to the membership role
    (``member`` or ``lead``). Existing roles and memberships are left alone.
    """
    person, _ = get_or_create(session, Person, email=email.lower(), defaults=fields)
    person.grant(*sorted(roles))
    for slug, role in (teams or {}).items():
        team = session.scalars(select(Team).filter_by(slug=slug)).one()
        get_or_create(
            session, Membership, team_id=team.id, person_id=person.id, defaults={"role": role}
        )
    session.flush()
    return person


def ensure_work_item(session: Session, reference: str, **fields: Any) -> WorkItem:
    """The work item with ``reference`` (its natural key), created with ``fields`` if absent."""
    item, _ = get_or_create(session, WorkItem, reference=reference, defaults=fields)
    return item
