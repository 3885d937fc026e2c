"""Checking and saving request categories, as the categories admin page posts them.

A category has a name, a slug (what forms, skills and reports name it by), an
optional parent, an optional default team and an active flag. :func:`check`
takes the posted texts and returns the clean values or the errors by field
(nothing is written then); :func:`save` writes clean values. A category is
never deleted: once a ticket or a skill names it, its slug is fixed too
(:func:`in_use`), and it can only be deactivated (:func:`deactivate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from engine.contrib import ChoiceList
from engine.model import Team
from engine.web.admin_support import as_id
from plugins.helpdesk.models import Category, Skill, Ticket
from plugins.helpdesk.sla_forms import SLUG

CHOICE_LIST = "helpdesk.categories"
"""The choice list a form's field names with ``choices_from: helpdesk.categories``."""
SEPARATOR = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "
"""Between a category's name and its parent's, in lists."""
MAX_DEPTH = 50
"""Parents followed at most when looking for a cycle (deeper trees are refused too)."""

Posted = dict[str, Any]
R = TypeVar("R", Category, Team)
Errors = dict[str, str]


@dataclass(frozen=True)
class Checked:
    """A posted category: ``values`` for :func:`save`, or ``errors`` by field name."""

    values: dict[str, Any]
    errors: Errors


def in_use(session: Session, category_id: int) -> bool:
    """Whether a ticket or an agent's skill names the category (its slug is fixed then)."""
    return bool(
        session.scalar(
            select(
                exists().where(Ticket.category_id == category_id)
                | exists().where(Skill.category_id == category_id)
            )
        )
    )


def _clean(raw: object) -> str:
    return raw.strip() if isinstance(raw, str) and "\x00" not in raw else ""


def check(session: Session, posted: Posted, category_id: int | None = None) -> Checked:
    """The posted fields of a new category (``category_id`` None) or of category ``category_id``."""
    errors: Errors = {}
    values: dict[str, Any] = {}
    current = session.get(Category, category_id) if category_id is not None else None
    slug = _clean(posted.get("slug", ""))
    if current is not None and slug == "":
        slug = current.slug  # an edit that does not offer the slug (it is in use) keeps it
    if not SLUG.match(slug):
        errors["slug"] = (
            f"'{slug[:64]}' is not a slug: lower-case letters, digits, - and _, "
            "starting with a letter, at most 64 characters"
            if slug
            else "fill this in: lower-case letters, digits, - and _, such as network"
        )
    elif current is not None and slug != current.slug and in_use(session, current.id):
        errors["slug"] = (
            f"tickets or skills name this category '{current.slug}' already, "
            "so its slug cannot change; change its name instead"
        )
    elif session.scalar(
        select(Category.id).where(Category.slug == slug, Category.id != (category_id or 0))
    ):
        errors["slug"] = f"there is a category '{slug}' already; choose another slug"
    values["slug"] = slug
    name = _clean(posted.get("name", ""))
    if not name:
        errors["name"] = "fill this in: the name people see, such as Network"
    elif len(name) > 200:
        errors["name"] = f"at most 200 characters (this is {len(name)})"
    values["name"] = name[:200]
    values["parent_id"] = _parent(session, posted.get("parent", ""), category_id, errors)
    values["default_team_id"] = _team(session, posted.get("default_team", ""), errors)
    values["active"] = posted.get("active") == "true"
    return Checked(values, errors)


def _chosen(session: Session, model: type[R], raw: object, field: str, errors: Errors) -> R | None:
    """The row of ``model`` a select posted the id of (``None``: none chosen, or an error)."""
    text = _clean(raw)
    row_id = as_id(text)
    row = session.get(model, row_id) if row_id is not None else None
    if text and row is None:
        what = model.__name__.lower()
        errors[field] = f"there is no {what} {text[:12]!r}; choose one of the list"
    return row


def _parent(session: Session, raw: object, category_id: int | None, errors: Errors) -> int | None:
    parent = _chosen(session, Category, raw, "parent", errors)
    if parent is None:
        return None
    seen: list[str] = []
    step: Category | None = parent
    while step is not None and len(seen) <= MAX_DEPTH:
        seen.append(step.slug)
        if category_id is not None and step.id == category_id:
            path = " → ".join(reversed(seen))
            errors["parent"] = (
                f"'{parent.slug}' is this category or one of its sub-categories "
                f"({path}): a category cannot sit under itself; choose another parent"
            )
            return None
        step = step.parent
    if step is not None:
        errors["parent"] = f"the categories above '{parent.slug}' are nested too deeply"
    return parent.id


def _team(session: Session, raw: object, errors: Errors) -> int | None:
    team = _chosen(session, Team, raw, "default_team", errors)
    if team is None:
        return None
    if not team.active:
        errors["default_team"] = f"the team '{team.name}' is inactive; choose an active team"
        return None
    return team.id


def save(session: Session, values: dict[str, Any], category_id: int | None) -> Category:
    """Write checked ``values`` to category ``category_id``, or to a new one."""
    row = session.get(Category, category_id) if category_id is not None else Category()
    assert row is not None, category_id
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    return row


def deactivate(session: Session, category_id: int) -> bool:
    """Mark the category inactive (new requests cannot choose it); ``False`` if there is none."""
    row = session.get(Category, category_id, with_for_update=True)
    if row is None:
        return False
    row.active = False
    return True


def active_choices(session: Session) -> list[tuple[str, str]]:
    """``(slug, name)`` of the active categories, a sub-category named ``Parent > Child``."""
    rows = list(session.scalars(select(Category)))
    by_id = {row.id: row for row in rows}
    return sorted(
        ((row.slug, path_name(row, by_id)) for row in rows if row.active),
        key=lambda pair: pair[1].lower(),
    )


def path_name(row: Category, by_id: dict[int, Category]) -> str:
    """``Hardware > Printers``: the names from the top of the tree down to ``row``."""
    names = [row.name]
    parent = by_id.get(row.parent_id) if row.parent_id is not None else None
    while parent is not None and len(names) <= MAX_DEPTH:
        names.append(parent.name)
        parent = by_id.get(parent.parent_id) if parent.parent_id is not None else None
    return SEPARATOR.join(reversed(names))


def choice_lists() -> list[ChoiceList]:
    """The help desk's choice lists: its active categories, for ``choices_from`` fields.

    A sub-category is labelled with its parents (``SEPARATOR`` between names);
    the value is the slug.
    """
    return [
        ChoiceList(CHOICE_LIST, load=active_choices, description="the active request categories")
    ]
