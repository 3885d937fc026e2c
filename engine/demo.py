"""Demo data: every plugin contributes its share through ``tierflow_load_demo_data``.

Every demo person signs in with the password :data:`DEMO_PASSWORD`; the engine
adds an administrator, ``admin@example.org``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.model import Base, Membership, Person, Team, WorkItem
from engine.model.auth import hash_password
from engine.plugins import PluginManager

M = TypeVar("M", bound=Base)

DEMO_PASSWORD = "tierflow-demo"
"""The password of every demo person (documented in the README: demo data only)."""

DEMO_ADMIN = "admin@example.org"


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
        ensure_person(
            session,
            DEMO_ADMIN,
            name="Ada Admin",
            is_staff=True,
            cost_rate=Decimal("60.00"),
            roles={"admin"},
        )
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
    password: str | None = DEMO_PASSWORD,
    **fields: Any,
) -> Person:
    """The person with ``email``, created with ``fields``; adds missing roles and memberships.

    ``teams`` maps team slugs (which must exist) to the membership role
    (``member`` or ``lead``). Existing roles and memberships are left alone. A
    person without a password gets ``password`` (``None``: none).
    """
    person, _ = get_or_create(session, Person, email=email.lower(), defaults=fields)
    if person.password_hash is None and password is not None:
        person.password_hash = _hashed(password)
    person.grant(*sorted(roles))
    for slug, role in (teams or {}).items():
        team = session.scalars(select(Team).filter_by(slug=slug)).one()
        get_or_create(
            session, Membership, team_id=team.id, person_id=person.id, defaults={"role": role}
        )
    session.flush()
    return person


@functools.cache
def _hashed(password: str) -> str:
    """One hash per demo password, shared by the demo people (hashing takes ~0.1 s each)."""
    return hash_password(password)


def ensure_work_item(session: Session, reference: str, **fields: Any) -> WorkItem:
    """The work item with ``reference`` (its natural key), created with ``fields`` if absent."""
    item, _ = get_or_create(session, WorkItem, reference=reference, defaults=fields)
    return item
