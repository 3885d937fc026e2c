"""The assignment admin page: each team's rule, and each agent's skills (admins only).

Both forms post every row at once; a bad value answers 422 with the page
again, what was posted kept and each error beside its control. Nothing is
saved unless everything is valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.contrib import NavItem
from engine.model import Membership, Person, PersonRole, Team
from engine.web.access import page
from engine.web.admin_support import as_id, notice, read, redirect, texts, write
from engine.web.forms import Option
from plugins.helpdesk.assignment import RULE_LABELS
from plugins.helpdesk.models import ASSIGNMENT_RULES, AssignmentRule, Category, Skill

PATH = "/helpdesk/admin/assignment"
TEMPLATE = "helpdesk/assignment.html"
NOTICES = {"rules": "The teams' rules were saved.", "skills": "The skills were saved."}
RULE_FIELD = re.compile(r"rule-(\d+)")
SKILL_FIELD = re.compile(r"skills-(\d+)")

# ------------------------------------------------------------ page state ---


@dataclass(frozen=True)
class RuleRow:
    """One team with its rule's select."""

    team_id: int
    name: str
    slug: str
    tier: str
    agents: int
    last_person: str
    field: str
    options: tuple[Option, ...]
    error: str


@dataclass(frozen=True)
class SkillRow:
    """One agent with a checkbox per category."""

    person_id: int
    name: str
    email: str
    teams: str
    field: str
    cells: tuple[Option, ...]
    error: str


@dataclass(frozen=True)
class AssignmentPage:
    rules: list[RuleRow]
    categories: list[str]
    skills: list[SkillRow]
    problems: list[tuple[str, str]]
    """``(link to the control, message)`` for the error summary."""
    rules_problem: str
    skills_problem: str


Values = Mapping[str, list[str]]


def _rule_rows(db: Session, values: Values | None, errors: Mapping[str, str]) -> list[RuleRow]:
    agents = dict(
        db.execute(
            select(Membership.team_id, func.count(Person.id))
            .join(Person, Person.id == Membership.person_id)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(Person.active, PersonRole.role == "agent")
            .group_by(Membership.team_id)
        )
        .tuples()
        .all()
    )
    stored = {row.team_id: row for row in db.scalars(select(AssignmentRule))}
    rows = []
    for team in db.scalars(select(Team).order_by(Team.name, Team.slug)):
        field = f"rule-{team.id}"
        rule = stored.get(team.id)
        chosen = rule.rule if rule is not None else "manual"
        if values is not None and field in values:
            chosen = (values[field] or [""])[0]
        last = rule.last_person if rule is not None else None
        options = tuple(
            Option(f"{field}-{v}", v, RULE_LABELS[v], v == chosen) for v in ASSIGNMENT_RULES
        )
        rows.append(
            RuleRow(
                team_id=team.id,
                name=team.name,
                slug=team.slug,
                tier=(team.tier or "—") + ("" if team.active else " (inactive)"),
                agents=agents.get(team.id, 0),
                last_person=last.name if last is not None else "—",
                field=field,
                options=options,
                error=_sentence(errors.get(field, "")),
            )
        )
    return rows


def _agents(db: Session) -> list[Person]:
    return list(
        db.scalars(
            select(Person)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(Person.active, PersonRole.role == "agent")
            .order_by(Person.name, Person.id)
        )
    )


def _categories(db: Session) -> list[Category]:
    return list(db.scalars(select(Category).where(Category.active).order_by(Category.name)))


def _skill_rows(db: Session, values: Values | None, errors: Mapping[str, str]) -> list[SkillRow]:
    categories = _categories(db)
    held: dict[int, set[str]] = {}
    for person_id, category_id in db.execute(select(Skill.person_id, Skill.category_id)):
        held.setdefault(person_id, set()).add(str(category_id))
    team_names: dict[int, list[str]] = {}
    for person_id, name in db.execute(
        select(Membership.person_id, Team.name).join(Team).order_by(Team.name)
    ):
        team_names.setdefault(person_id, []).append(name)
    rows = []
    for person in _agents(db):
        field = f"skills-{person.id}"
        ticked = held.get(person.id, set())
        if values is not None:
            ticked = set(values.get(field, []))
        cells = tuple(
            Option(f"skill-{person.id}-{c.id}", str(c.id), c.name, str(c.id) in ticked)
            for c in categories
        )
        rows.append(
            SkillRow(
                person_id=person.id,
                name=person.name,
                email=person.email,
                teams=", ".join(team_names.get(person.id, [])) or "—",
                field=field,
                cells=cells,
                error=_sentence(errors.get(field, "")),
            )
        )
    return rows


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


async def _page(
    request: Request,
    *,
    rules: Values | None = None,
    skills: Values | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    errors = errors or {}

    def load(db: Session) -> AssignmentPage:
        rows = _rule_rows(db, rules, errors)
        people = _skill_rows(db, skills, errors)
        problems = [(f"#{r.field}", r.error) for r in rows if r.error]
        problems += [(f"#{p.field}-cells", p.error) for p in people if p.error]
        for where in ("rules", "skills"):
            if errors.get(where):
                problems.append((f"#{where}-heading", _sentence(errors[where])))
        return AssignmentPage(
            rows,
            [c.name for c in _categories(db)],
            people,
            problems,
            _sentence(errors.get("rules", "")),
            _sentence(errors.get("skills", "")),
        )

    found = await read(request, load)
    return request.app.state.templates.TemplateResponse(
        request,
        TEMPLATE,
        {"page": found, "notice": notice(request, NOTICES), "path": PATH},
        status_code=status,
    )


# ----------------------------------------------------------------- posts ---


class Refused(Exception):
    """A post that cannot be saved; ``errors`` by field (``rules``/``skills``: the whole form)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _posted(form: FormData) -> dict[str, list[str]]:
    return {name: texts(form, name) for name in form}


def save_rules(db: Session, posted: Values) -> None:
    """Set each posted team's rule; raise :class:`Refused` (nothing saved) on a bad value."""
    errors: dict[str, str] = {}
    changes: dict[int, str] = {}
    for name, given in posted.items():
        matched = RULE_FIELD.fullmatch(name)
        if matched is None:
            continue
        team_id = as_id(matched.group(1))
        value = given[0] if len(given) == 1 else ""
        if team_id is None or db.get(Team, team_id) is None:
            errors["rules"] = (
                f"there is no team {matched.group(1)[:12]} (deleted meanwhile?); "
                "reload the page and choose again"
            )
        elif value not in ASSIGNMENT_RULES:
            shown = value if len(given) == 1 else " and ".join(given) or "nothing"
            errors[name] = f"'{shown[:60]}' is not a rule; choose one of: " + ", ".join(
                ASSIGNMENT_RULES
            )
        else:
            changes[team_id] = value
    if not changes and not errors:
        errors["rules"] = "the form named no team's rule; reload the page and choose again"
    if errors:
        raise Refused(errors)
    for team_id, value in changes.items():
        row = db.get(AssignmentRule, team_id, with_for_update=True)
        if row is None:
            db.add(AssignmentRule(team_id=team_id, rule=value))
        else:
            row.rule = value


def save_skills(db: Session, posted: Values) -> None:
    """Set the skills of each agent listed in ``people``; :class:`Refused` on a bad value."""
    listed = posted.get("people", [])
    ids = [as_id(text) for text in listed]
    people = {person_id for person_id in ids if person_id is not None}
    errors: dict[str, str] = {}
    if not listed:
        errors["skills"] = "the form named nobody; reload the page and tick the skills again"
    elif None in ids or not people <= {p.id for p in _agents(db)}:
        errors["skills"] = (
            "someone listed is not an active agent (disabled meanwhile?); "
            "reload the page and tick the skills again"
        )
    known = {str(c.id): c.id for c in _categories(db)}
    wanted: dict[int, set[int]] = {}
    for name, given in posted.items():
        matched = SKILL_FIELD.fullmatch(name)
        if matched is None:
            continue
        person_id = as_id(matched.group(1))
        if person_id is None or person_id not in people:
            errors.setdefault(
                "skills",
                f"skills were given for person {matched.group(1)[:12]}, who is not listed; "
                "reload the page and tick the skills again",
            )
            continue
        unknown = [value for value in given if value not in known]
        if unknown:
            errors[name] = (
                f"'{unknown[0][:60]}' is not an active category; "
                "tick only the categories shown (reload the page if one was removed)"
            )
        wanted[person_id] = {known[value] for value in given if value in known}
    if errors:
        raise Refused(errors)
    for person_id in people:
        keep = wanted.get(person_id, set())
        have = set(db.scalars(select(Skill.category_id).filter_by(person_id=person_id)))
        if have - keep:
            db.execute(
                delete(Skill).where(
                    Skill.person_id == person_id, Skill.category_id.in_(have - keep)
                )
            )
        db.add_all(Skill(person_id=person_id, category_id=c) for c in keep - have)


async def _save(
    request: Request, save: Callable[[Session, Values], None], done: str, kept: str
) -> Response:
    posted = _posted(await request.form())
    try:
        await write(request, lambda db: save(db, posted))
    except Refused as exc:
        return await _page(request, errors=exc.errors, status=422, **{kept: posted})
    return redirect(request, "helpdesk.assignment", done)


async def assignment_page(request: Request) -> Response:
    """GET /helpdesk/admin/assignment: every team's rule and every agent's skills."""
    return await _page(request)


async def rules_save(request: Request) -> Response:
    """POST /helpdesk/admin/assignment/rules: set the teams' rules (422 with the errors)."""
    return await _save(request, save_rules, "rules", "rules")


async def skills_save(request: Request) -> Response:
    """POST /helpdesk/admin/assignment/skills: set the agents' skills (422 with the errors)."""
    return await _save(request, save_skills, "skills", "skills")


ROUTES: list[BaseRoute] = [
    page(PATH, assignment_page, allow="admin", name="helpdesk.assignment"),
    page(
        f"{PATH}/rules", rules_save, allow="admin", methods=("POST",),
        name="helpdesk.assignment.rules",
    ),
    page(
        f"{PATH}/skills", skills_save, allow="admin", methods=("POST",),
        name="helpdesk.assignment.skills",
    ),
]  # fmt: skip

NAVIGATION = [NavItem("Assignment", PATH, roles=frozenset({"admin"}), order=92)]
