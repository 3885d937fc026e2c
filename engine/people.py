"""People: the rules for adding and changing them, shared by ``tierflow users`` and the admin pages.

Everything here works inside the caller's transaction (``sessions.begin()``)
and commits nothing: a refused change raises a :class:`PeopleError` subclass,
the transaction rolls back, and nothing was written. Input is checked first,
all fields at once (:func:`person_details` raises :class:`Invalid` with one
message per field), then against the database (:class:`EmailTaken`, unknown
teams, an administrator locking themselves out).

Disabling a person or setting their password ends their web sessions
(their API tokens stop working while they are disabled): the auth middleware
loads a person's roles and state on every request, so every change here takes
effect at their next request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.dsl.suggest import did_you_mean
from engine.errors import TierflowError
from engine.model import LEVELS, ROLES, Membership, Person, Team
from engine.model.auth import end_sessions_of, hash_password

MIN_PASSWORD_LENGTH = 8
STAFF_ROLES = frozenset(ROLES) - {"requester"}
"""Roles that make a person staff (``Person.is_staff``)."""
MAX_NAME = 200
MAX_EMAIL = 320
MAX_COST_RATE = Decimal("99999999.99")
"""The largest hourly cost rate the ``cost_rate`` column holds (``NUMERIC(10, 2)``)."""
MAX_WEEKLY_HOURS = 168
DEFAULT_WEEKLY_HOURS = 40


class PeopleError(TierflowError):
    """A change to a person or team was refused; nothing was changed.

    ``field`` names the form field at fault (``""`` when none is).
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Invalid(PeopleError):
    """Input was wrong; ``errors`` holds one message per field, in the order the fields come."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()), field=next(iter(errors), ""))
        self.errors = dict(errors)


class EmailTaken(PeopleError):
    """Somebody else has this e-mail address already."""

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} exists already", field="email")
        self.email = email


class SelfLockout(PeopleError):
    """An administrator tried to disable themselves or to give up their own admin role."""


# ---------------------------------------------------------------- checks ---


def check_email(text: str) -> str:
    """``text`` as a stored e-mail address (trimmed, lower-case); ``ValueError`` saying why not."""
    email = text.strip().lower()
    local, _, domain = email.partition("@")
    labels = domain.split(".")
    odd = any(not char.isprintable() or char.isspace() or char in '<>,;"\\' for char in email)
    odd = odd or "@" in domain
    if not local or len(labels) < 2 or "" in labels or odd or len(email) > MAX_EMAIL:
        raise ValueError(f"{email[:60]!r} is not an e-mail address (expected name@example.org)")
    return email


def check_name(text: str, *, what: str = "the person's full name") -> str:
    """``text`` trimmed, if it is a name of 1 to 200 characters; ``ValueError`` otherwise."""
    name = " ".join(text.split())
    if not name:
        raise ValueError(f"the name is empty: give {what}")
    check_printable(name, "name")
    if len(name) > MAX_NAME:
        raise ValueError(f"the name is {len(name)} characters long; shorten it to {MAX_NAME}")
    return name


def check_printable(text: str, what: str, *, lines: bool = False) -> str:
    """``text`` if it holds no control characters (``lines``: newlines and tabs allowed)."""
    allowed = "\r\n\t" if lines else ""
    if any(not char.isprintable() and char not in allowed for char in text):
        raise ValueError(f"the {what} contains a control character; retype it without one")
    return text


def check_password(password: str) -> str:
    """``password`` if it is long enough; ``ValueError`` saying how long it must be."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"the password is {len(password)} characters long; "
            f"use at least {MIN_PASSWORD_LENGTH} (a few words make a good one)"
        )
    return password


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    """``roles`` if there is at least one and all are known; ``ValueError`` otherwise."""
    chosen = frozenset(roles)
    unknown = sorted(chosen - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
    if not chosen:
        raise ValueError("choose at least one role (requester, for someone who only asks)")
    return chosen


def check_level(level: str | None) -> str | None:
    """``None`` for no level, else one of :data:`LEVELS`; ``ValueError`` otherwise."""
    if not level:
        return None
    if level not in LEVELS:
        raise ValueError(f"unknown level {level[:20]!r}; choose {', '.join(LEVELS)} or none")
    return level


def _number(text: str | Decimal | int, what: str, example: str) -> Decimal:
    try:
        value = text if isinstance(text, Decimal) else Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(
            f"{str(text)[:30]!r} is not a number; write the {what} like {example}"
        ) from None
    if not value.is_finite():
        raise ValueError(f"{str(text)[:30]!r} is not a number; write the {what} like {example}")
    return value


def check_cost_rate(text: str | Decimal) -> Decimal:
    """An hourly cost rate: 0 to :data:`MAX_COST_RATE`, at most two decimals (blank is 0)."""
    if isinstance(text, str) and not text.strip():
        return Decimal("0.00")
    rate = _number(text, "hourly cost rate", "85 or 62.50")
    if rate < 0 or rate > MAX_COST_RATE:
        raise ValueError(f"the hourly cost rate must be between 0 and {MAX_COST_RATE}")
    if rate != rate.quantize(Decimal("0.01")):
        raise ValueError(f"{rate} has more than two decimals; round it to cents, e.g. 62.50")
    return rate.quantize(Decimal("0.01"))


def check_weekly_hours(text: str | Decimal | int) -> int:
    """Weekly capacity given in hours (0 to 168, e.g. ``37.5``), returned in whole minutes."""
    if isinstance(text, str) and not text.strip():
        raise ValueError("enter the weekly capacity in hours, e.g. 40 (0 for none)")
    hours = _number(text, "weekly capacity", "40 or 37.5")
    if hours < 0 or hours > MAX_WEEKLY_HOURS:
        raise ValueError(f"the weekly capacity must be between 0 and {MAX_WEEKLY_HOURS} hours")
    return int((hours * 60).to_integral_value())


# -------------------------------------------------------------- details ---


@dataclass(frozen=True)
class PersonDetails:
    """What an administrator sets about a person (checked by :func:`person_details`)."""

    name: str
    email: str
    roles: frozenset[str]
    level: str | None = None
    cost_rate: Decimal = Decimal("0.00")
    weekly_capacity_minutes: int = DEFAULT_WEEKLY_HOURS * 60


def person_details(
    *,
    name: str,
    email: str,
    roles: Iterable[str],
    level: str | None = None,
    cost_rate: str | Decimal = "0",
    weekly_hours: str | Decimal | int = DEFAULT_WEEKLY_HOURS,
) -> PersonDetails:
    """The checked details; :class:`Invalid` naming every wrong field (email, name, roles …)."""
    checks = {
        "email": lambda: check_email(email),
        "name": lambda: check_name(name),
        "roles": lambda: check_roles(roles),
        "level": lambda: check_level(level),
        "cost_rate": lambda: check_cost_rate(cost_rate),
        "weekly_hours": lambda: check_weekly_hours(weekly_hours),
    }
    values, errors = collect(checks)
    if errors:
        raise Invalid(errors)
    return PersonDetails(
        name=values["name"],
        email=values["email"],
        roles=values["roles"],
        level=values["level"],
        cost_rate=values["cost_rate"],
        weekly_capacity_minutes=values["weekly_hours"],
    )


def collect(checks: Mapping[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """Run each ``{field: check}`` (a no-argument callable): ``(values, errors)`` by field."""
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for field, check in checks.items():
        try:
            values[field] = check()  # type: ignore[operator]
        except ValueError as exc:
            errors[field] = str(exc)
    return values, errors


# ------------------------------------------------------------- changes ---


def add_person(
    db: Session, details: PersonDetails, *, teams: Sequence[Team] = (), password: str | None = None
) -> Person:
    """Add the person ``details`` describes, in ``teams``, signing in with ``password`` if given.

    :class:`EmailTaken` if their e-mail is someone's already.
    """
    _email_is_free(db, details.email)
    person = Person(email=details.email, name=details.name)
    _apply(person, details)
    if password is not None:
        person.password_hash = hash_password(check_password(password))
    person.memberships = [Membership(team=team) for team in dict.fromkeys(teams)]
    db.add(person)
    _flush(db, details.email)
    return person


def update_person(
    db: Session,
    person: Person,
    details: PersonDetails,
    *,
    teams: Sequence[Team] | None = None,
    actor_id: int | None = None,
) -> None:
    """Change ``person`` to ``details``; ``teams`` (if given) become their teams.

    A team they stay in keeps their role in it (lead or member); new ones make
    them a member. :class:`SelfLockout` if ``actor_id`` is theirs and the admin
    role is being taken away; :class:`EmailTaken` for another person's e-mail.
    """
    if person.id == actor_id and "admin" in person.role_names and "admin" not in details.roles:
        raise SelfLockout(
            "you cannot remove your own admin role (you would lock yourself out); "
            "ask another administrator to do it",
            field="roles",
        )
    if details.email != person.email:
        _email_is_free(db, details.email)
    person.email, person.name = details.email, details.name
    _apply(person, details)
    if teams is not None:
        kept = {membership.team_id: membership for membership in person.memberships}
        person.memberships = [
            kept.get(team.id) or Membership(team=team) for team in dict.fromkeys(teams)
        ]
    _flush(db, details.email)


def _apply(person: Person, details: PersonDetails) -> None:
    person.level = details.level
    person.cost_rate = details.cost_rate
    person.weekly_capacity_minutes = details.weekly_capacity_minutes
    person.is_staff = bool(details.roles & STAFF_ROLES)
    person.roles = [role for role in person.roles if role.role in details.roles]
    person.grant(*sorted(details.roles))


def _email_is_free(db: Session, email: str) -> None:
    if db.scalars(select(Person.id).where(Person.email == email)).first() is not None:
        raise EmailTaken(email)


def _flush(db: Session, email: str) -> None:
    try:
        db.flush()
    except IntegrityError as exc:  # the e-mail was taken by a concurrent change
        raise EmailTaken(email) from exc


def set_password(db: Session, person: Person, password: str) -> int:
    """Give ``person`` ``password``; end their sessions (they sign in again); return how many."""
    try:
        person.password_hash = hash_password(check_password(password))
    except ValueError as exc:
        raise Invalid({"password": str(exc)}) from None
    return end_sessions_of(db, person.id)


def set_active(db: Session, person: Person, *, active: bool, actor_id: int | None = None) -> int:
    """Enable or disable ``person``; return how many sessions ended (disabling ends all).

    :class:`SelfLockout` if ``actor_id`` is theirs and they are being disabled.
    """
    if not active and person.id == actor_id:
        raise SelfLockout(
            "you cannot disable yourself (you would lock yourself out); "
            "ask another administrator to do it"
        )
    person.active = active
    db.flush()
    return 0 if active else end_sessions_of(db, person.id)


# ---------------------------------------------------------------- teams ---


def teams_by_slug(db: Session, slugs: Iterable[str]) -> list[Team]:
    """The teams named ``slugs``, in that order; :class:`PeopleError` naming an unknown one."""
    found = {team.slug: team for team in db.scalars(select(Team)).all()}
    for slug in slugs:
        if slug not in found:
            known = ", ".join(sorted(found)) or "none yet"
            raise PeopleError(
                f"unknown team {slug!r}{did_you_mean(slug, found)}; known teams: {known}",
                field="teams",
            )
    return [found[slug] for slug in dict.fromkeys(slugs)]


def teams_by_id(db: Session, ids: Iterable[int]) -> list[Team]:
    """The teams with ``ids``; :class:`PeopleError` naming an id that is no team's."""
    wanted = list(dict.fromkeys(ids))
    found = {team.id: team for team in db.scalars(select(Team).where(Team.id.in_(wanted)))}
    missing = [team_id for team_id in wanted if team_id not in found]
    if missing:
        raise PeopleError(
            f"there is no team {missing[0]} (it may have been removed); reload the page",
            field="teams",
        )
    return [found[team_id] for team_id in wanted]
