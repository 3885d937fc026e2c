"""Teams and their memberships: the rules for adding and changing them (the admin pages use them).

As in :mod:`engine.people`, everything works inside the caller's transaction
and raises a :class:`~engine.people.PeopleError` subclass when refused, so a
refused change writes nothing. Workflows name teams by ``slug``
(``team: helpdesk-l1``), so a slug is checked as workflows check it and is
never changed once the team exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.dsl.types import NAME_PATTERN
from engine.model import MEMBERSHIP_ROLES, Membership, Person, Team
from engine.people import Invalid, PeopleError, check_email, check_name, check_printable, collect

SLUG = re.compile(NAME_PATTERN)
MAX_SLUG = 64
MAX_TIER = 16
MAX_DESCRIPTION = 4000


class SlugTaken(PeopleError):
    """Another team has this slug already."""

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"a team with the slug {slug!r} exists already; choose another", field="slug"
        )
        self.slug = slug


def check_slug(text: str) -> str:
    """``text`` trimmed, if workflows accept it as a team's name; ``ValueError`` otherwise."""
    slug = text.strip()
    if not slug:
        raise ValueError("the slug is empty: give the name workflows use, e.g. helpdesk-l1")
    if len(slug) > MAX_SLUG or not SLUG.fullmatch(slug):
        raise ValueError(
            f"{slug[:70]!r} is not a slug: use lower-case letters, digits, '-' and '_', "
            f"starting with a letter, at most {MAX_SLUG} characters (e.g. helpdesk-l1)"
        )
    return slug


def check_tier(text: str) -> str | None:
    """A tier such as ``L1`` or ``PMO`` (blank is none); ``ValueError`` if too long."""
    tier = text.strip()
    if len(tier) > MAX_TIER:
        raise ValueError(f"the tier is {len(tier)} characters long; use at most {MAX_TIER}")
    return check_printable(tier, "tier") or None


def check_description(text: str) -> str:
    description = text.strip()
    if len(description) > MAX_DESCRIPTION:
        raise ValueError(
            f"the description is {len(description)} characters long; "
            f"shorten it to {MAX_DESCRIPTION}"
        )
    return check_printable(description, "description", lines=True)


def check_team_email(text: str) -> str | None:
    """The team's shared mailbox, if one is given (blank is none)."""
    return check_email(text) if text.strip() else None


def check_membership_role(role: str) -> str:
    if role not in MEMBERSHIP_ROLES:
        raise ValueError(f"unknown team role {role[:20]!r}; choose {' or '.join(MEMBERSHIP_ROLES)}")
    return role


@dataclass(frozen=True)
class TeamDetails:
    """What an administrator sets about a team (checked by :func:`team_details`)."""

    name: str
    tier: str | None = None
    description: str = ""
    email: str | None = None
    active: bool = True


def team_details(
    *, name: str, tier: str = "", description: str = "", email: str = "", active: bool = True
) -> TeamDetails:
    """The checked details; :class:`~engine.people.Invalid` naming every wrong field."""
    values, errors = collect(
        {
            "name": lambda: check_name(name, what="the team's name, e.g. Help desk"),
            "tier": lambda: check_tier(tier),
            "description": lambda: check_description(description),
            "email": lambda: check_team_email(email),
        }
    )
    if errors:
        raise Invalid(errors)
    return TeamDetails(active=active, **values)  # type: ignore[arg-type]


def add_team(db: Session, slug: str, details: TeamDetails) -> Team:
    """Add a team named ``slug`` (a :func:`check_slug`-checked one); :class:`SlugTaken` if taken."""
    if db.scalars(select(Team.id).where(Team.slug == slug)).first() is not None:
        raise SlugTaken(slug)
    team = Team(slug=slug, name=details.name)
    update_team(db, team, details)
    db.add(team)
    try:
        db.flush()
    except IntegrityError as exc:  # the slug was taken by a concurrent change
        raise SlugTaken(slug) from exc
    return team


def update_team(db: Session, team: Team, details: TeamDetails) -> None:
    """Change ``team`` to ``details`` (its slug stays: workflows name the team by it)."""
    team.name = details.name
    team.tier = details.tier
    team.description = details.description
    team.email = details.email
    team.active = details.active


# ---------------------------------------------------------- memberships ---


def add_member(db: Session, team: Team, person: Person, role: str = "member") -> Membership:
    """Make ``person`` a member (or lead) of ``team``; :class:`PeopleError` if they are one."""
    role = _role(role)
    if _membership(db, team, person.id) is not None:
        raise PeopleError(
            f"{person.name} is in {team.name} already; change their role in the list of members",
            field="member_email",
        )
    membership = Membership(team=team, person=person, role=role)
    db.add(membership)
    db.flush()
    return membership


def set_member_role(db: Session, team: Team, person_id: int, role: str) -> Membership:
    """Make member ``person_id`` of ``team`` a ``role`` (member or lead)."""
    membership = _member(db, team, person_id)
    membership.role = _role(role)
    db.flush()
    return membership


def remove_member(db: Session, team: Team, person_id: int) -> Person:
    """Take ``person_id`` out of ``team``; return them."""
    membership = _member(db, team, person_id)
    person = membership.person
    db.delete(membership)
    db.flush()
    return person


def _role(role: str) -> str:
    try:
        return check_membership_role(role)
    except ValueError as exc:
        raise PeopleError(str(exc), field="role") from None


def _membership(db: Session, team: Team, person_id: int) -> Membership | None:
    return db.get(Membership, (team.id, person_id))


def _member(db: Session, team: Team, person_id: int) -> Membership:
    membership = _membership(db, team, person_id)
    if membership is None:
        raise PeopleError(
            f"person {person_id} is not a member of {team.name} (someone may have removed them "
            "meanwhile); reload the page"
        )
    return membership
