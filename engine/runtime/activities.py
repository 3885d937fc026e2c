"""The engine's generic activities, and the list of every activity a worker runs.

Activities are the only place workflow runs touch the database. Each is
idempotent: it is keyed by the caller (workflow id + step id + occurrence), so
a retry after a crash writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.events import record_event
from engine.plugins import PluginManager, unique_by
from engine.workitems import WorkItemError, update_work_item


@dataclass(frozen=True)
class RecordEventInput:
    """One event for a work item's audit trail; ``key`` makes the write idempotent."""

    work_item_id: int
    type: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)
    actor_id: int | None = None
    team_id: int | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class UpdateWorkItemInput:
    """Changes to one work item (see :data:`engine.workitems.CHANGEABLE`), applied once per key."""

    work_item_id: int
    key: str
    changes: dict[str, Any] = field(default_factory=dict)
    actor_id: int | None = None


class CoreActivities:
    """Activities the engine itself provides to every workflow."""

    def __init__(self, pm: PluginManager, sessions: sessionmaker[Session]) -> None:
        self.pm = pm
        self.sessions = sessions

    @activity.defn(name="engine.record_event")
    def record_event(self, args: RecordEventInput) -> int:
        """Append an event (once per key) and return its id."""
        with self.sessions() as session, session.begin():
            event = record_event(
                session,
                self.pm,
                work_item_id=args.work_item_id,
                type=args.type,
                data=args.data,
                actor_id=args.actor_id,
                team_id=args.team_id,
                key=args.key,
                at=args.occurred_at,
            )
            return event.id

    @activity.defn(name="engine.update_work_item")
    def update_work_item(self, args: UpdateWorkItemInput) -> list[int]:
        """Change a work item's status, team, assignee ...; returns the ids of the events."""
        try:
            with self.sessions() as session, session.begin():
                events = update_work_item(
                    session,
                    self.pm,
                    args.work_item_id,
                    args.changes,
                    key=args.key,
                    actor_id=args.actor_id,
                )
                return [event.id for event in events]
        except WorkItemError as exc:  # retrying cannot fix a bad change
            raise ApplicationError(str(exc), type="WorkItemError", non_retryable=True) from exc

    def all(self) -> list[Callable[..., Any]]:
        return [self.record_event, self.update_work_item]


def worker_activities(
    pm: PluginManager, sessions: sessionmaker[Session]
) -> list[Callable[..., Any]]:
    """The core activities plus every plugin action; a name contributed twice is an error."""
    core = CoreActivities(pm, sessions)
    actions = unique_by(pm, "tierflow_register_actions", "name")
    return [*core.all(), *actions.values()]
