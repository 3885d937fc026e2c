"""The impact x urgency matrix: which priority (1 most urgent .. 4) a ticket gets.

Administrators change the nine cells on the priority page
(:mod:`plugins.helpdesk.views_priority`); ``helpdesk.prioritise`` reads them
through :func:`priority_for`. A cell that has no row yet uses
:data:`DEFAULT_MATRIX`, so a new installation works before anyone edits it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.helpdesk.models import LEVELS3, PriorityRule

PRIORITIES = (1, 2, 3, 4)

DEFAULT_MATRIX: dict[tuple[str, str], int] = {
    ("high", "high"): 1,
    ("high", "medium"): 2,
    ("high", "low"): 3,
    ("medium", "high"): 2,
    ("medium", "medium"): 3,
    ("medium", "low"): 4,
    ("low", "high"): 3,
    ("low", "medium"): 4,
    ("low", "low"): 4,
}
"""(impact, urgency) -> priority, as ITIL's usual 3x3 table (P1 only when both are high)."""

PRIORITY_NAMES = {1: "1 (critical)", 2: "2 (high)", 3: "3 (medium)", 4: "4 (low)"}


class PriorityError(ValueError):
    """An impact, urgency or priority that is not one of the allowed values."""


def check_level(what: str, value: object) -> str:
    """``value`` as an impact or urgency level, or :class:`PriorityError` naming the choices."""
    if not isinstance(value, str) or value.strip().lower() not in LEVELS3:
        raise PriorityError(f"{what} must be one of {', '.join(LEVELS3)}; got {value!r}")
    return value.strip().lower()


def check_priority(value: object) -> int:
    """``value`` as a priority 1..4 (a number or its digits), or :class:`PriorityError`."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip() in ("1", "2", "3", "4"):  # ASCII digits only
        value = int(value.strip())
    if value not in PRIORITIES:
        raise PriorityError(f"a priority is 1 (most urgent) to 4; got {value!r}")
    return int(value)  # type: ignore[arg-type]


def matrix(session: Session) -> dict[tuple[str, str], int]:
    """The nine cells as they are now: the administrators' rows over :data:`DEFAULT_MATRIX`."""
    cells = dict(DEFAULT_MATRIX)
    for rule in session.scalars(select(PriorityRule)):
        cells[(rule.impact, rule.urgency)] = rule.priority
    return cells


def priority_for(session: Session, impact: object, urgency: object) -> int:
    """The priority of a ticket with this impact and urgency (raises :class:`PriorityError`)."""
    cell = (check_level("impact", impact), check_level("urgency", urgency))
    rule = session.get(PriorityRule, cell)
    return rule.priority if rule is not None else DEFAULT_MATRIX[cell]


def save_matrix(session: Session, cells: Mapping[tuple[str, str], int]) -> int:
    """Store every cell given (all checked first: nothing is written if one is bad).

    Returns how many cells changed.
    """
    checked = {
        (check_level("impact", impact), check_level("urgency", urgency)): check_priority(value)
        for (impact, urgency), value in cells.items()
    }
    changed = 0
    current = matrix(session)
    for (impact, urgency), priority in checked.items():
        rule = session.get(PriorityRule, (impact, urgency))
        if rule is None:
            session.add(PriorityRule(impact=impact, urgency=urgency, priority=priority))
        else:
            rule.priority = priority
        changed += current[(impact, urgency)] != priority
    session.flush()
    return changed


def seed_default(session: Session) -> None:
    """Write :data:`DEFAULT_MATRIX` into the cells that have no row yet (demo data)."""
    for (impact, urgency), priority in DEFAULT_MATRIX.items():
        if session.get(PriorityRule, (impact, urgency)) is None:
            session.add(PriorityRule(impact=impact, urgency=urgency, priority=priority))
    session.flush()
