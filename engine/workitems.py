"""Changing work items, with every change recorded as an event (the audit trail KPIs use)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import TierflowError
from engine.events import record_event
from engine.model import Event, Person, Team, WorkItem
from engine.model.base import utcnow
from engine.plugins import PluginManager

CHANGEABLE = (
    "status",
    "priority",
    "title",
    "owner_team",
    "current_team",
    "assignee",
    "due_at",
    "custom",
    "closed",
)
"""What :func:`update_work_item` may change (teams by slug, people by e-mail)."""

_EVENT_OF = {
    "status": "status_changed",
    "priority": "priority_changed",
    "owner_team": "owner_changed",
    "current_team": "team_changed",
    "assignee": "assigned",
    "closed": "status_changed",
}


class WorkItemError(TierflowError):
    """A change names something that does not exist or is not allowed."""


def update_work_item(
    session: Session,
    pm: PluginManager,
    work_item_id: int,
    changes: Mapping[str, Any],
    *,
    key: str,
    actor_id: int | None = None,
) -> list[Event]:
    """Apply ``changes`` once per ``key`` and return the events recorded.

    Each changed aspect gets its own event (``status_changed``, ``team_changed``,
    ``assigned``, ``priority_changed``, ``updated``) keyed ``<key>/<aspect>``;
    if the first of them exists, the change was already applied (a retried
    activity) and nothing happens. Unknown fields, teams or people raise
    :class:`WorkItemError` and change nothing.
    """
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise WorkItemError(
            f"cannot change {', '.join(unknown)} of a work item; "
            f"changeable: {', '.join(CHANGEABLE)}"
        )
    item = session.get(WorkItem, work_item_id)
    if item is None:
        raise WorkItemError(f"work item {work_item_id} does not exist")
    applied = session.scalars(
        select(Event).where(Event.idempotency_key.like(f"{_escape(key)}/%", escape="\\"))
    ).all()
    if applied:
        return list(applied)
    with session.begin_nested():  # a bad change rolls back the good ones before it
        diffs = {name: _apply(session, item, name, value) for name, value in changes.items()}
    events = []
    for name, (old, new) in diffs.items():
        if old == new:
            continue
        events.append(
            record_event(
                session,
                pm,
                work_item_id=item.id,
                type=_EVENT_OF.get(name, "updated"),
                data={"field": name, "from": old, "to": new},
                actor_id=actor_id,
                team_id=item.current_team_id,
                key=f"{key}/{name}",
            )
        )
    return events


def _apply(session: Session, item: WorkItem, name: str, value: Any) -> tuple[Any, Any]:
    if name in ("current_team", "owner_team"):
        team = _team(session, value)
        was: Team | None = getattr(item, name)
        setattr(item, name, team)
        return (was.slug if was else None), (team.slug if team else None)
    if name == "assignee":
        person = _person(session, value)
        old = item.assignee.email if item.assignee else None
        item.assignee = person
        return old, person.email if person else None
    if name == "closed":
        was = item.closed_at is not None
        item.closed_at = (item.closed_at or utcnow()) if value else None
        return was, bool(value)
    if name == "due_at":
        old = item.due_at.isoformat() if item.due_at else None
        item.due_at = _moment(value)
        return old, item.due_at.isoformat() if item.due_at else None
    if name == "custom":
        if not isinstance(value, Mapping):
            raise WorkItemError(f"custom must be a mapping of fields, got {value!r}")
        old_custom = dict(item.custom)
        item.custom = {**old_custom, **value}
        return old_custom, dict(item.custom)
    if name == "priority" and value is not None and value not in (1, 2, 3, 4):
        raise WorkItemError(f"priority must be 1 (most urgent) to 4, got {value!r}")
    old = getattr(item, name)
    setattr(item, name, value)
    return old, value


def _team(session: Session, slug: Any) -> Team | None:
    if slug in (None, ""):
        return None
    team = session.scalars(select(Team).filter_by(slug=str(slug))).one_or_none()
    if team is None:
        raise WorkItemError(f"there is no team '{slug}'")
    return team


def _person(session: Session, email: Any) -> Person | None:
    if email in (None, ""):
        return None
    person = session.scalars(select(Person).filter_by(email=str(email).lower())).one_or_none()
    if person is None:
        raise WorkItemError(f"there is no person with the e-mail address '{email}'")
    return person


def _moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise WorkItemError(f"due_at needs a time zone, got {value!r}")
    return moment


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
