"""The admin forms for people and teams: their fields, and posted text to checked details.

The rules are :mod:`engine.people`'s and :mod:`engine.teams`' (the same as
``tierflow users``); this module only reads the HTML posts and says which
field each message belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from starlette.datastructures import FormData

from engine.model import LEVELS, MEMBERSHIP_ROLES, ROLES, Person, Team
from engine.people import (
    DEFAULT_WEEKLY_HOURS,
    Invalid,
    PersonDetails,
    check_password,
    person_details,
)
from engine.teams import TeamDetails, check_slug, team_details
from engine.web.admin_support import Errors, Field, Values, as_id, text, texts, widgets
from engine.web.forms import Widget

ROLE_LABELS = {
    "requester": "Requester",
    "agent": "Agent",
    "project_manager": "Project manager",
    "manager": "Manager",
    "admin": "Administrator",
}
assert set(ROLE_LABELS) == set(ROLES), "every role has a label"
MEMBERSHIP_LABELS = {"member": "Member", "lead": "Lead"}
assert set(MEMBERSHIP_LABELS) == set(MEMBERSHIP_ROLES), "every team role has a label"

PERSON_FIELDS = (
    Field("name", "Name", required=True, attrs=(("maxlength", "200"),)),
    Field(
        "email",
        "E-mail",
        "email",
        required=True,
        help="They sign in with it. Stored in lower case; each person has their own.",
    ),
    Field(
        "roles",
        "Roles",
        "checkboxes",
        help="Administrators may do everything.",
        options=tuple(ROLE_LABELS.items()),
    ),
    Field("level", "Support level", "select", options=(("", "None"), *((v, v) for v in LEVELS))),
    Field(
        "cost_rate",
        "Hourly cost rate",
        "number",
        help="Prices their time entries, e.g. 62.50.",
        attrs=(("min", "0"), ("step", "0.01")),
    ),
    Field(
        "weekly_hours",
        "Weekly capacity (hours)",
        "number",
        help=f"Hours a week they can work, e.g. {DEFAULT_WEEKLY_HOURS} or 37.5.",
        attrs=(("min", "0"), ("max", "168"), ("step", "0.5")),
    ),
    Field(
        "teams",
        "Teams",
        "checkboxes",
        help="New teams make them a member; leads are chosen on each team's page.",
    ),
)
NEW_PASSWORD = (
    Field(
        "password",
        "New password",
        "password",
        required=True,
        help="At least 8 characters. Their sessions end: they sign in again with it.",
        attrs=(("autocomplete", "new-password"),),
    ),
    Field(
        "password_again",
        "Repeat the password",
        "password",
        required=True,
        attrs=(("autocomplete", "new-password"),),
    ),
)
FIRST_PASSWORD = (
    replace(
        NEW_PASSWORD[0],
        label="Password",
        required=False,
        help="At least 8 characters. Leave both blank to set one later.",
    ),
    replace(NEW_PASSWORD[1], required=False),
)
TEAM_FIELDS = (
    Field("name", "Name", required=True, attrs=(("maxlength", "200"),)),
    Field("tier", "Tier", help="For example L1, L2, L3 or PMO.", attrs=(("maxlength", "16"),)),
    Field("description", "Description", "textarea"),
    Field("email", "Team e-mail", "email", help="A shared mailbox, if the team has one."),
)
SLUG_FIELD = Field(
    "slug",
    "Slug",
    required=True,
    help="The name workflows use, e.g. helpdesk-l1: lower-case letters, digits, - and _. "
    "It cannot be changed later.",
    attrs=(("maxlength", "64"),),
)
ACTIVE_FIELD = Field("active", "Active (offered for new work)", "checkbox")
MEMBER_FIELDS = (
    Field("member_email", "E-mail of the person", "email", required=True),
    Field("role", "Role in the team", "select", options=tuple(MEMBERSHIP_LABELS.items())),
)


def role_text(roles: frozenset[str]) -> str:
    """``{"agent", "admin"}`` as ``Agent, Administrator`` (``none`` for no roles)."""
    return ", ".join(ROLE_LABELS[role] for role in ROLES if role in roles) or "none"


# ---------------------------------------------------------------- people ---


@dataclass(frozen=True)
class PersonPost:
    """A posted person form: the details (``None`` if wrong), team ids, password and errors."""

    details: PersonDetails | None
    team_ids: list[int]
    password: str | None
    errors: dict[str, str]


def parse_person(form: FormData, *, with_password: bool) -> PersonPost:
    """Check a posted person form, every field at once."""
    errors: dict[str, str] = {}
    details = None
    try:
        details = person_details(
            name=text(form, "name"),
            email=text(form, "email"),
            roles=texts(form, "roles"),
            level=text(form, "level") or None,
            cost_rate=text(form, "cost_rate"),
            weekly_hours=text(form, "weekly_hours"),
        )
    except Invalid as exc:
        errors |= exc.errors
    team_ids = [as_id(value) for value in texts(form, "teams")]
    if None in team_ids:
        errors["teams"] = "a chosen team is not one of the teams listed; reload the page"
    password = None
    if with_password:
        password, problem = parse_password(form, optional=True)
        if problem:
            errors["password"] = problem
    return PersonPost(details, [i for i in team_ids if i is not None], password, errors)


def parse_password(form: FormData, *, optional: bool = False) -> tuple[str | None, str]:
    """``(password, problem)`` of a form with ``password`` and ``password_again``.

    The service's rule decides what is long enough (:func:`engine.people.check_password`).
    """
    password, again = text(form, "password"), text(form, "password_again")
    if optional and not password and not again:
        return None, ""
    if not password:
        return None, "enter the new password in both boxes"
    if password != again:
        return None, "the two passwords differ; type the same password in both boxes"
    try:
        return check_password(password), ""
    except ValueError as exc:
        return None, str(exc)


def person_values(person: Person | None) -> dict[str, str | list[str]]:
    """A person's details as their form shows them (a new person's defaults for ``None``)."""
    if person is None:
        return {"roles": ["requester"], "cost_rate": "0.00", "weekly_hours": "40"}
    hours = Decimal(person.weekly_capacity_minutes) / 60
    return {
        "name": person.name,
        "email": person.email,
        "roles": sorted(person.role_names),
        "level": person.level or "",
        "cost_rate": f"{person.cost_rate:.2f}",
        "weekly_hours": f"{hours.quantize(Decimal('0.01')).normalize():f}",
        "teams": [str(membership.team_id) for membership in person.memberships],
    }


def person_widgets(
    values: Values, errors: Errors, teams: list[Team], person: Person | None = None
) -> list[Widget]:
    """The person form; a new person's (``person`` is ``None``) has the first password too.

    Teams are named with their slug; inactive ones, and those ``person`` leads, say so.
    """
    leads = {m.team_id for m in person.memberships if m.role == "lead"} if person else set()
    choices = tuple(
        (
            str(team.id),
            f"{team.name} ({team.slug})"
            + ("" if team.active else ", inactive")
            + (", lead" if team.id in leads else ""),
        )
        for team in teams
    )
    fields = [replace(f, options=choices) if f.name == "teams" else f for f in PERSON_FIELDS]
    fields = [f for f in fields if f.control != "checkboxes" or f.options]
    return widgets(fields + list(FIRST_PASSWORD if person is None else ()), values, errors)


def password_widgets(errors: Errors) -> list[Widget]:
    return widgets(NEW_PASSWORD, {}, errors)


# ----------------------------------------------------------------- teams ---


def parse_team(form: FormData, *, new: bool) -> tuple[str, TeamDetails | None, dict[str, str]]:
    """Check a posted team form: ``(slug, details, errors)`` (a slug only when ``new``)."""
    errors: dict[str, str] = {}
    slug = ""
    if new:
        try:
            slug = check_slug(text(form, "slug"))
        except ValueError as exc:
            errors["slug"] = str(exc)
    try:
        details = team_details(
            name=text(form, "name"),
            tier=text(form, "tier"),
            description=text(form, "description"),
            email=text(form, "email"),
            active=new or bool(text(form, "active")),
        )
    except Invalid as exc:
        return slug, None, errors | exc.errors
    return slug, details, errors


def team_values(team: Team) -> dict[str, str | list[str]]:
    return {
        "name": team.name,
        "tier": team.tier or "",
        "description": team.description,
        "email": team.email or "",
        "active": "true" if team.active else "",
    }


def team_widgets(values: Values, errors: Errors, *, new: bool) -> list[Widget]:
    """The team form: slug (new teams only), name, tier, description, e-mail (and active)."""
    fields = (SLUG_FIELD, *TEAM_FIELDS) if new else (*TEAM_FIELDS, ACTIVE_FIELD)
    return widgets(fields, values, errors)


def member_widgets(values: Values, errors: Errors) -> list[Widget]:
    """Adding a member: their e-mail and their role in the team."""
    return widgets(MEMBER_FIELDS, values, errors)
