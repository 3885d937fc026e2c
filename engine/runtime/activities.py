"""The engine's generic activities, and the list of every activity a worker runs.

Activities are the only place workflow runs touch the database. Each is
idempotent: it is keyed by the caller (workflow id + step id + occurrence), so
a retry after a crash writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.contrib import ActionInput
from engine.events import record_event
from engine.plugins import PluginManager, unique_by
from engine.runtime.task_activities import TaskActivities
from engine.workitems import WorkItemError, update_work_item


class CoreActivities:
    """Activities the engine itself provides to every workflow."""

    def __init__(self, pm: PluginManager, sessions: sessionmaker[Session]) -> None:
        self.pm = pm
        self.sessions = sessions

    @activity.defn(name="engine.record_event")
    def record_event(self, action: ActionInput) -> int:
        """Append an event (once per key) and return its id.

        ``with: {type: <event type>, data: {...}}``.
        """
        args = action.args
        if not isinstance(args.get("type"), str) or not args["type"]:
            raise ApplicationError(
                f"step '{action.step_id}': engine.record_event needs with: {{type: <event type>}}",
                type="BadArguments",
                non_retryable=True,
            )
        with self.sessions() as session, session.begin():
            event = record_event(
                session,
                self.pm,
                work_item_id=_work_item(action),
                type=args["type"],
                data=dict(args.get("data") or {}),
                key=action.key,
            )
            return event.id

    @activity.defn(name="engine.update_work_item")
    def update_work_item(self, action: ActionInput) -> list[int]:
        """Change the work item (``with:`` status, team, assignee ...); returns the event ids."""
        try:
            with self.sessions() as session, session.begin():
                events = update_work_item(
                    session, self.pm, _work_item(action), action.args, key=action.key
                )
                return [event.id for event in events]
        except WorkItemError as exc:  # retrying cannot fix a bad change
            raise ApplicationError(
                f"step '{action.step_id}': {exc}", type="WorkItemError", non_retryable=True
            ) from exc

    def all(self) -> list[Callable[..., Any]]:
        return [self.record_event, self.update_work_item]


def _work_item(action: ActionInput) -> int:
    if action.work_item_id is None:
        raise ApplicationError(
            f"step '{action.step_id}' changes a work item, but this run has none",
            type="NoWorkItem",
            non_retryable=True,
        )
    return action.work_item_id


def worker_activities(
    pm: PluginManager, sessions: sessionmaker[Session]
) -> list[Callable[..., Any]]:
    """The engine's activities plus every plugin action; a name contributed twice is an error."""
    core = CoreActivities(pm, sessions)
    actions = unique_by(pm, "tierflow_register_actions", "name", pm=pm, sessions=sessions)
    tasks = TaskActivities(pm, sessions)
    return [*core.all(), *tasks.all(), *actions.values()]
