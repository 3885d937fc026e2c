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
    "steps": "what earlier steps recorded, as steps.<id>.<name>: a task's outcome, data (the "
    "form's fields) and completed_by (the id of the person who completed it); an action's or "
    "call's result; a wait for a signal's signal and timed_out; a parallel step's outcomes and "
    "first",
    "outcome": "in a task's 'next' and 'set': the outcome its form was completed with",
    "data": "in a task's 'next' and 'set': the data its form was completed with",
    "result": "in an action's or call's 'next' and 'set': what it returned",
    "signal": "in a wait for a signal's 'next' and 'set': the signal's payload (none if the "
    "wait timed out)",
    "timed_out": "in a wait for a signal's 'next' and 'set': whether the wait timed out",
    "outcomes": "in a parallel step's 'next' and 'set': each finished branch's outcome, by "
    "branch name (the outcome of the end step it reached, or completed)",
    "first": "in a parallel step's 'next' and 'set': the name of the branch that finished "
    "first (with wait_for: first)",
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
    choice_lists: frozenset[str] | None = None
    """The lists ``choices_from`` may name (plugins' choice lists); ``None``: not checked."""
