"""Who gets a task when it opens for a team: the team's assignment rule.

A team without an :class:`AssignmentRule` row, or with ``manual``, leaves its
tasks in the queue for its agents to claim. The other rules pick one of the
team's *eligible* people: members (plain members and leads) who are active and
hold the ``agent`` role.

- ``round_robin``: the next eligible person after ``last_person`` in person-id
  order, wrapping around; people disabled or no longer members are skipped.
- ``least_loaded``: the eligible person with the fewest open tasks assigned to
  them, counted across all teams.
- ``skill_match``: among the eligible people with a :class:`Skill` in the
  item's category (or a parent of it), the least loaded; when nobody has the
  skill, or the item has no category, the least loaded of the whole team, and
  the event says so (``fallback``). The category is the item's custom
  ``category`` (a slug or an id, as forms set it), else its Ticket row's.

Ties are broken in a fixed order, so the same data always gives the same
person: (1) fewest open tasks; (2) longest since their last assignment (never
assigned counts as longest), where the last assignment is the latest of the
creation of a task assigned to them and their latest ``task_claimed`` event,
looked for among the newest 5,000 tasks and 20,000 events (older counts as
never, so the cost does not grow with history); (3) the lowest person id.
The event's ``tie_break`` names the step that decided (``None`` when the
fewest open tasks alone did).

:func:`on_event` applies the rule when the engine records ``task_opened``
(inside the task-opening transaction), and again when a task is moved to
another team's queue (``task_reassigned`` to a team, once per move): it sets
the task's assignee, moves ``last_person`` on for round robin, and records
``task_assigned`` {task, step, rule, person (e-mail), person_id, reason,
tie_break, fallback} (or ``task_not_assigned`` {task, step, rule, reason} when
the team has nobody to give it to), keyed by the task id so that nothing
happens twice; other subscribers are told of it like any event. The rule's
row is locked (``SELECT ... FOR UPDATE``; SQLite serialises writers anyway)
so that two tasks opening at once for one team are decided one after the
other. Loads counted for another team's concurrent decision may miss a task
not yet committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.events import record_event
from engine.model import Event, Membership, Person, PersonRole, Task, WorkItem
from engine.model.base import utcnow
from engine.plugins import PluginManager
from plugins.helpdesk.models import ASSIGNMENT_RULES, AssignmentRule, Category, Skill, Ticket

log = logging.getLogger(__name__)

RULE_LABELS: dict[str, str] = {
    "manual": "Manual claim: agents claim tasks from the queue",
    "round_robin": "Round robin: each agent in turn",
    "least_loaded": "Least loaded: the agent with the fewest open tasks",
    "skill_match": "Skill match: a least-loaded agent skilled in the category",
}
assert set(RULE_LABELS) == set(ASSIGNMENT_RULES)

NEVER = datetime.min.replace(tzinfo=UTC)
"""The last assignment of someone never assigned: longer ago than anyone's."""

MAX_CATEGORY_DEPTH = 20
"""Parents followed at most (a guard against a cycle in the category tree)."""


RECENT_TASKS = 5_000
RECENT_EVENTS = 20_000
"""How far back (the newest task and event rows) a last assignment is looked for.

Older ones count as never: the look-up costs the same after years of history.
"""


@dataclass(frozen=True)
class Candidate:
    """An eligible person."""

    id: int
    email: str
    name: str


@dataclass(frozen=True)
class Choice:
    """Whom a rule picked, and why (the ``task_assigned`` event's data)."""

    person: Candidate
    rule: str
    reason: str
    tie_break: str | None = None
    fallback: bool = False


# ------------------------------------------------------------- the rules ---


def eligible(session: Session, team_id: int) -> list[Candidate]:
    """The team's active agents (members and leads), by person id."""
    rows = session.execute(
        select(Person.id, Person.email, Person.name)
        .join(Membership, Membership.person_id == Person.id)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(Membership.team_id == team_id, Person.active, PersonRole.role == "agent")
        .order_by(Person.id)
    ).tuples()
    return [Candidate(pid, email, name) for pid, email, name in rows]


def open_tasks(session: Session, ids: list[int]) -> dict[int, int]:
    """How many open tasks each person holds, in every team (the assignee index)."""
    counted = session.execute(
        select(Task.assignee_id, func.count(Task.id))
        .where(Task.assignee_id.in_(ids), Task.status == "open")
        .group_by(Task.assignee_id)
    ).tuples()
    return {pid: n for pid, n in counted if pid is not None}


def last_assigned(session: Session, ids: list[int]) -> dict[int, datetime]:
    """When each person was last given a task: opened for them, or claimed by them.

    Looked for among the newest :data:`RECENT_TASKS` tasks and
    :data:`RECENT_EVENTS` events (primary-key ranges); not found: never.
    """
    newest_task = session.scalar(select(func.max(Task.id))) or 0
    newest_event = session.scalar(select(func.max(Event.id))) or 0
    given = session.execute(
        select(Task.assignee_id, func.max(Task.created_at))
        .where(Task.id > newest_task - RECENT_TASKS, Task.assignee_id.in_(ids))
        .group_by(Task.assignee_id)
    ).tuples()
    claimed = session.execute(
        select(Event.actor_id, func.max(Event.occurred_at))
        .where(
            Event.id > newest_event - RECENT_EVENTS,
            Event.type == "task_claimed",
            Event.actor_id.in_(ids),
        )
        .group_by(Event.actor_id)
    ).tuples()
    last: dict[int, datetime] = {}
    for pid, at in [*given, *claimed]:
        if pid is not None and at is not None:
            last[pid] = max(last.get(pid, NEVER), at)
    return last


def least_loaded(session: Session, people: list[Candidate]) -> tuple[Candidate, str | None, str]:
    """The least loaded of ``people``, the tie-break that decided (if any), and why in words."""
    assert people, "least_loaded needs someone to choose from"
    loads = open_tasks(session, [p.id for p in people])
    fewest = min(loads.get(p.id, 0) for p in people)
    tied = [p for p in people if loads.get(p.id, 0) == fewest]
    reason = f"fewest open tasks ({fewest})"
    if len(tied) == 1:
        return tied[0], None, reason
    last = last_assigned(session, [p.id for p in tied])
    earliest = min(last.get(p.id, NEVER) for p in tied)
    longest = [p for p in tied if last.get(p.id, NEVER) == earliest]
    reason += f", tied with {len(tied) - 1} other(s)"
    if len(longest) == 1:
        return longest[0], "last_assigned", reason + "; longest since their last assignment"
    chosen = min(longest, key=lambda p: p.id)
    return chosen, "person_id", reason + " and on the last assignment; lowest person id"


def round_robin(people: list[Candidate], last_person_id: int | None) -> tuple[Candidate, str]:
    """The next of ``people`` (by id) after ``last_person_id``, wrapping; and why in words."""
    assert people, "round_robin needs someone to choose from"
    ordered = sorted(people, key=lambda p: p.id)
    if last_person_id is None:
        return ordered[0], "first in turn"
    after = [p for p in ordered if p.id > last_person_id]
    if after:
        return after[0], "next in turn"
    return ordered[0], "next in turn (wrapped around to the first)"


def item_category(session: Session, work_item_id: int) -> Category | None:
    """The item's category: its custom ``category`` (slug or id), else its Ticket row's."""
    item = session.get(WorkItem, work_item_id)
    raw: Any = (item.custom or {}).get("category") if item is not None else None
    found: Category | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        found = session.get(Category, raw)
    elif isinstance(raw, str) and raw.strip():
        text = raw.strip()
        found = session.scalars(select(Category).filter_by(slug=text.lower())).one_or_none()
        if found is None and text.isdigit() and len(text) < 10:
            found = session.get(Category, int(text))
    if found is not None:
        return found
    ticket = session.get(Ticket, work_item_id)
    if ticket is not None and ticket.category_id is not None:
        return session.get(Category, ticket.category_id)
    return None


def _lineage(session: Session, category: Category) -> list[int]:
    """The category's id and its parents' ids (a skill in a parent covers its children)."""
    ids = [category.id]
    parent = category.parent_id
    while parent is not None and parent not in ids and len(ids) < MAX_CATEGORY_DEPTH:
        ids.append(parent)
        parent = session.scalar(select(Category.parent_id).where(Category.id == parent))
    return ids


def skill_match(
    session: Session, people: list[Candidate], category: Category | None, team: str
) -> Choice:
    """The least loaded of the people skilled in ``category``; else of everyone (a fallback)."""
    if category is None:
        chosen, tie, why = least_loaded(session, people)
        return Choice(chosen, "skill_match", f"the item has no category; {why}", tie, True)
    skilled = set(
        session.scalars(
            select(Skill.person_id).where(
                Skill.category_id.in_(_lineage(session, category)),
                Skill.person_id.in_([p.id for p in people]),
            )
        )
    )
    pool = [p for p in people if p.id in skilled]
    if not pool:
        chosen, tie, why = least_loaded(session, people)
        reason = f"nobody in {team} has the skill '{category.slug}'; fell back to {why}"
        return Choice(chosen, "skill_match", reason, tie, True)
    chosen, tie, why = least_loaded(session, pool)
    return Choice(chosen, "skill_match", f"skilled in '{category.slug}'; {why}", tie)


def choose(session: Session, rule: AssignmentRule, task: Task) -> Choice | str:
    """Whom ``rule`` gives ``task`` to, or why nobody (a sentence)."""
    team = task.team.name if task.team is not None else f"team {rule.team_id}"
    people = eligible(session, rule.team_id)
    if not people:
        return f"{team} has no active agents to assign"
    if rule.rule == "round_robin":
        chosen, why = round_robin(people, rule.last_person_id)
        return Choice(chosen, "round_robin", why)
    if rule.rule == "least_loaded":
        chosen, tie, why = least_loaded(session, people)
        return Choice(chosen, "least_loaded", why, tie)
    return skill_match(session, people, item_category(session, task.work_item_id), team)


# ------------------------------------------------------- the subscriber ---


def on_event(event: Event, session: Session, pm: PluginManager | None = None) -> None:
    """``tierflow_event_recorded``: apply the team's rule to a task that opened or moved to it.

    A task moved to another team's queue (``task_reassigned`` to a team, not a
    person: an overdue rule) is decided again, once per move.
    """
    data = event.data or {}
    task_id = data.get("task")
    if event.team_id is None or not isinstance(task_id, int):
        return
    if event.type == "task_opened":
        assign_task(session, task_id, pm, at=event.occurred_at)
        return
    moved = data.get("to")
    if event.type == "task_reassigned" and isinstance(moved, dict) and not moved.get("person"):
        key = f"helpdesk/task/{task_id}/assigned/after/{event.id}"
        assign_task(session, task_id, pm, at=event.occurred_at, key=key)


def assign_task(
    session: Session,
    task_id: int,
    pm: PluginManager | None = None,
    *,
    at: datetime | None = None,
    key: str | None = None,
) -> Choice | None:
    """Apply its team's rule to open, unassigned task ``task_id``, once; whom it went to.

    Nothing happens for a task that has an assignee, is closed, has no team,
    whose team's rule is manual, or that was decided before (``key``, by
    default one per task). The event is recorded ``at`` that time (the
    opening's), else now.
    """
    task = session.get(Task, task_id)
    if task is None or task.team_id is None or task.assignee_id is not None:
        return None
    if task.status != "open":
        return None
    rule = session.scalars(
        select(AssignmentRule)
        .where(AssignmentRule.team_id == task.team_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if rule is None or rule.rule == "manual":
        return None
    key = key or f"helpdesk/task/{task.id}/assigned"
    if session.scalar(select(Event.id).where(Event.idempotency_key == key)) is not None:
        return None
    picked = choose(session, rule, task)
    if isinstance(picked, str):
        log.warning("task %s left in the queue: %s", task.id, picked)
        data = {"rule": rule.rule, "reason": picked}
        _record(session, pm, task, key=key, type="task_not_assigned", data=data, at=at)
        return None
    task.assignee_id = picked.person.id
    if picked.rule == "round_robin":
        rule.last_person_id = picked.person.id
    data = {
        "rule": picked.rule,
        "person": picked.person.email,
        "person_id": picked.person.id,
        "reason": picked.reason,
        "tie_break": picked.tie_break,
        "fallback": picked.fallback,
    }
    _record(session, pm, task, key=key, type="task_assigned", data=data, at=at)
    return picked


def _record(
    session: Session,
    pm: PluginManager | None,
    task: Task,
    *,
    key: str,
    type: str,
    data: dict[str, Any],
    at: datetime | None,
) -> None:
    """Append the decision to the item's audit trail (keyed: once per task).

    With the plugin manager, other subscribers are told as for any event;
    without one (a caller outside the event hook), the row alone is written.
    """
    data = {"task": task.id, "step": task.step_id, **data}
    if pm is not None:
        record_event(
            session, pm, work_item_id=task.work_item_id, type=type, data=data,
            team_id=task.team_id, key=key, at=at,
        )  # fmt: skip
        return
    session.add(
        Event(
            work_item_id=task.work_item_id,
            type=type,
            data=data,
            team_id=task.team_id,
            idempotency_key=key,
            occurred_at=at or utcnow(),
        )
    )
    session.flush()
