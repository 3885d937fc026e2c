"""Who is on the line: a caller found by e-mail or name, or added on the spot.

:func:`identify_caller` reads the call form's caller fields: ``caller`` (an
e-mail or part of a name or e-mail), ``caller_id`` (the one chosen when
several people match), or ``new_name`` and ``new_email`` for somebody we do
not know yet (checked by the rules of :mod:`engine.people`, added as a
requester only once the whole form is right, by :func:`add_caller`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData

from engine.model import Person
from engine.people import EmailTaken, Invalid, PersonDetails, add_person, person_details
from engine.web.forms import Option, Widget

CALLER_FIELDS = ("caller", "caller_id", "new_name", "new_email")
MAX_LOOKUP = 320
MATCHES_SHOWN = 10


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the form gave it: a person found, one to add, or errors by field."""

    person_id: int | None = None
    new: PersonDetails | None = None
    """A caller to add (with ``person_id`` too when their e-mail is somebody's already)."""
    matches: tuple[Option, ...] = ()
    errors: dict[str, list[str]] = field(default_factory=dict)


def text(posted: FormData, name: str) -> str:
    """The posted text of field ``name`` (``""`` when absent or a file)."""
    value = posted.get(name)
    return value if isinstance(value, str) else ""


def find_people(db: Session, search: str, *, limit: int = MATCHES_SHOWN) -> list[Person]:
    """Active people whose e-mail is ``search``, else whose name or e-mail holds it (by name).

    Up to ``limit + 1`` of them, so the caller can tell there are more.
    """
    wanted = " ".join(search.split()).lower()
    exact = db.scalars(select(Person).where(Person.email == wanted, Person.active)).first()
    if exact is not None:
        return [exact]
    pattern = "%" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(Person)
        .where(
            Person.active,
            or_(Person.name.ilike(pattern, escape="\\"), Person.email.ilike(pattern, escape="\\")),
        )
        .order_by(Person.name, Person.id)
        .limit(limit + 1)
    )
    return list(db.scalars(query))


def identify_caller(db: Session, posted: FormData) -> Caller:
    """The caller the form names: found by ``caller``, or added from ``new_name``, ``new_email``."""
    lookup = " ".join(text(posted, "caller").split())
    name, email = text(posted, "new_name").strip(), text(posted, "new_email").strip()
    if lookup and (name or email):
        both = "find a caller we know or add a new one, not both: clear one of them"
        return Caller(errors={"caller": [both]})
    if name or email:
        try:
            details = person_details(name=name, email=email, roles={"requester"})
        except Invalid as exc:
            errors = {f"new_{k}": [v] for k, v in exc.errors.items() if k in ("name", "email")}
            return Caller(errors=errors)
        return known_caller(db, details) or Caller(new=details)
    if not lookup:
        missing = "give the caller's e-mail or name, or add a new caller below"
        return Caller(errors={"caller": [missing]})
    if len(lookup) > MAX_LOOKUP:
        return Caller(errors={"caller": [f"shorten the search to {MAX_LOOKUP} characters"]})
    found = find_people(db, lookup)
    chosen = text(posted, "caller_id")
    options = tuple(
        Option(f"field-caller_id-{n}", str(p.id), f"{p.name} <{p.email}>", str(p.id) == chosen)
        for n, p in enumerate(found[:MATCHES_SHOWN])
    )
    if len(found) == 1:
        return Caller(person_id=found[0].id, matches=(options[0],))
    picked = [option for option in options if option.selected]
    if picked:
        return Caller(person_id=int(picked[0].value), matches=options)
    if not found:
        nobody = f"nobody matches {lookup[:60]!r}; check the spelling, or add the caller below"
        return Caller(errors={"caller": [nobody]})
    more = "more than " if len(found) > MATCHES_SHOWN else ""
    return Caller(
        matches=options,
        errors={"caller_id": [f"{more}{len(options)} people match {lookup[:60]!r}: choose one"]},
    )


def caller_widgets(posted: FormData | None, caller: Caller) -> list[Widget]:
    """The lookup field and, when the lookup found people, the choice among them."""
    errors = caller.errors
    value = "" if posted is None else text(posted, "caller")
    found = [
        Widget(
            "caller", "Caller's e-mail or name", "Press Find caller to look them up.",
            False, "text", value=value, errors=tuple(errors.get("caller", ())),
        )
    ]  # fmt: skip
    if caller.matches:
        choices = caller.matches
        if caller.person_id is not None:
            choices = tuple(
                Option(o.id, o.value, o.label, o.value == str(caller.person_id)) for o in choices
            )
        found.append(
            Widget(
                "caller_id", "Which caller?", "", True, "radio",
                choices=choices, errors=tuple(errors.get("caller_id", ())),
            )
        )  # fmt: skip
    return found


def new_caller_widgets(posted: FormData | None, errors: dict[str, list[str]]) -> list[Widget]:
    """The name and e-mail of a caller to add."""
    typed = (lambda name: "") if posted is None else (lambda name: text(posted, name))
    return [
        Widget("new_name", "Full name", "", False, "text", value=typed("new_name"),
               errors=tuple(errors.get("new_name", ()))),
        Widget("new_email", "E-mail", "", False, "email", value=typed("new_email"),
               errors=tuple(errors.get("new_email", ())), attrs=(("autocomplete", "off"),)),
    ]  # fmt: skip


def known_caller(db: Session, details: PersonDetails) -> Caller | None:
    """A caller to add whose e-mail is somebody's already (``None`` if it is nobody's).

    The same name too: the same person (the form sent twice, or a caller
    added who was known), so the call goes on with them. Another name: they
    are looked up instead, with an error asking to check them.
    """
    found = db.execute(select(Person.id, Person.name).where(Person.email == details.email)).first()
    if found is None:
        return None
    if " ".join(found.name.split()).casefold() == details.name.casefold():
        return Caller(person_id=found.id)
    taken = (
        f"{details.email} is {found.name}'s already, so they are looked up here instead: "
        "check they are the caller and send the form again"
    )
    return Caller(person_id=found.id, new=details, errors={"caller": [taken]})


def add_caller(sessions: sessionmaker[Session], caller: Caller) -> Caller:
    """The new caller added (committed); their e-mail taken meanwhile: :func:`known_caller`.

    A double click sends the form twice at once: the second finds the person
    the first added (same name, same e-mail) and goes on with them.
    """
    details = caller.new
    assert details is not None, "only a new caller is added"
    try:
        with sessions.begin() as db:
            return Caller(person_id=add_person(db, details).id, new=details)
    except EmailTaken:
        with sessions() as db:
            return known_caller(db, details) or Caller(
                errors={"new_email": [f"{details.email} could not be added; send the form again"]}
            )


def as_found(posted: FormData, caller: Caller) -> FormData:
    """The post with a caller (just added, or known already) moved to the lookup field."""
    if caller.new is None or caller.person_id is None:
        return posted
    kept = [(k, v) for k, v in posted.multi_items() if k not in CALLER_FIELDS]
    return FormData([*kept, ("caller", caller.new.email)])
