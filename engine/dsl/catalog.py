"""What a workflow may refer to outside its own file: actions, shared forms, teams, workflows.

The validator checks names against a :class:`Catalog`. The engine builds one
from the installed plugins (actions, forms) and, where a database is
configured, its teams; without a database ``teams`` is ``None`` and team names
are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.dsl.forms import Form

ROLES = frozenset({"requester", "agent", "project_manager", "manager", "admin"})

EXPRESSION_ROOTS = {
    "item": "the work item: id, reference, title, kind, type, status, priority, channel, custom, "
    "requester, owner_team, current_team, assignee",
    "input": "the data the workflow started with (the intake form's fields)",
    "vars": "the workflow's variables (declared under 'variables', set by 'set' and 'result')",
    "steps": "what earlier steps produced: steps.<id>.outcome, steps.<id>.data, steps.<id>.result",
    "outcome": "in a task's 'next': the outcome its form was completed with",
    "data": "in a task's 'next': the data its form was completed with",
    "result": "in an action's or call's 'next': what it returned",
    "signal": "in a wait's 'next': the signal's payload (none if the wait timed out)",
    "timed_out": "in a wait's 'next': whether the wait for a signal timed out",
    "now": "the current time (UTC)",
    "workflow": "this run: name, version, id",
}
"""The names an expression may start with, and what each holds (for messages and docs)."""


@dataclass(frozen=True)
class Catalog:
    """Names outside the file that a workflow may use."""

    actions: frozenset[str] = frozenset()
    forms: Mapping[str, Form] = field(default_factory=dict)
    workflows: frozenset[str] = frozenset()
    teams: frozenset[str] | None = None
    roles: frozenset[str] = ROLES
