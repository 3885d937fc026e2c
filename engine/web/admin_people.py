"""Administration of people (roles, level, teams, sign-in) and teams (memberships).

Every page is for administrators. Each change is one transaction through
:mod:`engine.people` (the rules ``tierflow users`` follows too); the auth
middleware reads roles and state on every request, so a change applies to the
person's next request. Teams are :mod:`engine.web.admin_teams`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.model import ROLES, Membership, Person, PersonRole, Team
from engine.people import PeopleError, add_person, set_active, set_password, teams_by_id
from engine.people import update_person as change_person
from engine.web import admin_teams
from engine.web.access import page, viewer_of
from engine.web.admin_support import (
    apply,
    as_id,
    errors_of,
    missing,
    notice,
    read,
    redirect,
    submitted,
    write,
)
from engine.web.forms import Widget
from engine.web.people_forms import (
    ROLE_LABELS,
    parse_password,
    parse_person,
    password_widgets,
    person_values,
    person_widgets,
    role_text,
)

PAGE_SIZE = 50
STATUSES = {"active": "Active", "disabled": "Disabled"}
NOTICES = {
    "created": "The person was added.",
    "saved": "Your changes were saved.",
    "password": "The password was set; their sessions have ended.",
    "disabled": "They are disabled: their sessions have ended and they cannot sign in.",
    "enabled": "They are enabled and can sign in again.",
}


# ------------------------------------------------------------------ list ---


@dataclass(frozen=True)
class PersonRow:
    """One person in the list, as printed."""

    id: int
    name: str
    email: str
    roles: str
    level: str
    teams: str
    status: str


def _status(person: Person) -> str:
    if not person.active:
        return "Disabled"
    return "Active" if person.password_hash else "Active, no password yet"


def _teams_text(person: Person) -> str:
    names = [m.team.name + (" (lead)" if m.role == "lead" else "") for m in person.memberships]
    return ", ".join(sorted(names)) or "—"


def _rows(db: Session, q: str, role: str, status: str, after: str) -> list[PersonRow]:
    query = select(Person).options(
        selectinload(Person.roles),
        selectinload(Person.memberships).selectinload(Membership.team),
    )
    if q:
        query = query.where(
            or_(
                Person.name.icontains(q, autoescape=True),
                Person.email.icontains(q, autoescape=True),
            )
        )
    if role:
        query = query.where(Person.roles.any(PersonRole.role == role))
    if status:
        query = query.where(Person.active.is_(status == "active"))
    if after:
        query = query.where(Person.email > after)
    people = db.scalars(query.order_by(Person.email).limit(PAGE_SIZE + 1)).all()
    return [
        PersonRow(
            id=person.id,
            name=person.name,
            email=person.email,
            roles=role_text(person.role_names),
            level=person.level or "—",
            teams=_teams_text(person),
            status=_status(person),
        )
        for person in people
    ]


async def people_list(request: Request) -> Response:
    """GET /admin/people: everyone, 50 a page by e-mail; search by name or e-mail, filters."""
    params = request.query_params
    q = params.get("q", "").strip()[:200]
    role, status = params.get("role", ""), params.get("status", "")
    after = params.get("after", "")[:320]
    problem = ""
    if role and role not in ROLES:
        problem = f"Unknown role {role[:40]!r}: choose one of the roles listed."
    elif status and status not in STATUSES:
        problem = f"Unknown status {status[:40]!r}: choose active or disabled."
    rows = [] if problem else await read(request, lambda db: _rows(db, q, role, status, after))
    kept = {name: value for name, value in (("q", q), ("role", role), ("status", status)) if value}
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        next_url = "?" + urlencode(kept | {"after": rows[-1].email})
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/admin/people.html",
        {
            "rows": rows,
            "q": q,
            "role": role,
            "roles": list(ROLE_LABELS.items()),
            "status": status,
            "statuses": list(STATUSES.items()),
            "next_url": next_url,
            "first_url": "?" + urlencode(kept) if after else None,
            "problem": problem,
        },
        status_code=400 if problem else 200,
    )


# ------------------------------------------------------------ one person ---


@dataclass(frozen=True)
class PersonPage:
    """The person page (or the new-person page when ``id`` is ``None``), as printed."""

    id: int | None
    name: str
    email: str
    status: str
    active: bool
    is_self: bool
    details: list[Widget]
    password: list[Widget]
    problem: str


def _person(db: Session, person_id: int | None) -> Person | None:
    return db.get(Person, person_id) if as_id(person_id) is not None else None


async def _page(
    request: Request,
    person_id: int | None,
    *,
    values: dict[str, str | list[str]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """Render the person page (the new-person form for ``None``); 404 for nobody's id."""
    errors = dict(errors or {})
    viewer = viewer_of(request)

    def load(db: Session) -> PersonPage | None:
        person = _person(db, person_id)
        if person is None and person_id is not None:
            return None
        teams = list(db.scalars(select(Team).order_by(Team.name, Team.slug)))
        shown = values if values is not None else person_values(person)
        return PersonPage(
            id=person_id,
            name=person.name if person else "",
            email=person.email if person else "",
            status=_status(person) if person else "",
            active=person.active if person else True,
            is_self=person_id == viewer.person_id,
            details=person_widgets(shown, errors, teams, person),
            password=password_widgets(errors),
            problem=errors.get("", ""),
        )

    found = await read(request, load)
    if found is None:
        return missing(request, f"person {person_id}", "/admin/people")
    template = "engine/admin/person.html" if person_id else "engine/admin/person_new.html"
    return request.app.state.templates.TemplateResponse(
        request,
        template,
        {"person": found, "notice": notice(request, NOTICES)},
        status_code=status,
    )


async def person_new(request: Request) -> Response:
    """GET /admin/people/new: the form to add a person."""
    return await _page(request, None)


async def person_create(request: Request) -> Response:
    """POST /admin/people/new: add the person; the form again (422) with every error."""
    form = await request.form()
    post = parse_person(form, with_password=True)
    errors = post.errors
    if not errors and post.details is not None:
        details = post.details
        try:
            new_id = await write(
                request,
                lambda db: (
                    add_person(
                        db, details, teams=teams_by_id(db, post.team_ids), password=post.password
                    ).id
                ),
            )
        except PeopleError as exc:
            errors = errors_of(exc)
        else:
            return redirect(request, "admin.person", "created", person_id=new_id)
    return await _page(
        request, None, values=submitted(form, "roles", "teams"), errors=errors, status=422
    )


async def person_page(request: Request) -> Response:
    """GET /admin/people/{id}: their details, password, and whether they may sign in."""
    return await _page(request, request.path_params["person_id"])


async def person_update(request: Request) -> Response:
    """POST /admin/people/{id}: change their details (never an admin's own admin role)."""
    person_id = request.path_params["person_id"]
    form = await request.form()
    post = parse_person(form, with_password=False)
    errors = post.errors
    if not errors and post.details is not None:
        details, actor = post.details, viewer_of(request).person_id

        def change(db: Session, person: Person) -> None:
            teams = teams_by_id(db, post.team_ids)
            change_person(db, person, details, teams=teams, actor_id=actor)

        outcome = await _apply(request, change, "saved")
        if isinstance(outcome, Response):
            return outcome
        errors = outcome
    return await _page(
        request, person_id, values=submitted(form, "roles", "teams"), errors=errors, status=422
    )


async def person_password(request: Request) -> Response:
    """POST /admin/people/{id}/password: set their password (typed twice); ends their sessions."""
    person_id = request.path_params["person_id"]
    password, problem = parse_password(await request.form())
    errors = {"password": problem} if problem else {}
    if password is not None:
        outcome = await _apply(
            request, lambda db, person: set_password(db, person, password), "password"
        )
        if isinstance(outcome, Response):
            return outcome
        errors = outcome
    return await _page(request, person_id, errors=errors, status=422)


async def _apply(
    request: Request, change: Callable[[Session, Person], object], done: str
) -> Response | dict[str, str]:
    """Run ``change(db, person)`` in one transaction; a redirect, a 404, or its errors."""
    person_id = request.path_params["person_id"]
    outcome = await apply(request, lambda db: _person(db, person_id), change)
    if outcome is True:
        return redirect(request, "admin.person", done, person_id=person_id)
    return outcome or missing(request, f"person {person_id}", "/admin/people")


async def _set_active(request: Request, *, active: bool) -> Response:
    actor = viewer_of(request).person_id
    outcome = await _apply(
        request,
        lambda db, person: set_active(db, person, active=active, actor_id=actor),
        "enabled" if active else "disabled",
    )
    if isinstance(outcome, Response):
        return outcome
    return await _page(request, request.path_params["person_id"], errors=outcome, status=409)


async def person_disable(request: Request) -> Response:
    """POST /admin/people/{id}/disable: they cannot sign in; their sessions end (not oneself)."""
    return await _set_active(request, active=False)


async def person_enable(request: Request) -> Response:
    """POST /admin/people/{id}/enable: they may sign in again."""
    return await _set_active(request, active=True)


def _routes() -> list[BaseRoute]:
    one = "/admin/people/{person_id:int}"
    post = ("POST",)
    return [
        page("/admin/people", people_list, allow="admin", name="admin.people"),
        page("/admin/people/new", person_new, allow="admin", name="admin.people.new"),
        page(
            "/admin/people/new",
            person_create,
            allow="admin",
            methods=post,
            name="admin.people.create",
        ),
        page(one, person_page, allow="admin", name="admin.person"),
        page(one, person_update, allow="admin", methods=post, name="admin.person.update"),
        page(
            f"{one}/password",
            person_password,
            allow="admin",
            methods=post,
            name="admin.person.password",
        ),
        page(
            f"{one}/disable",
            person_disable,
            allow="admin",
            methods=post,
            name="admin.person.disable",
        ),
        page(
            f"{one}/enable", person_enable, allow="admin", methods=post, name="admin.person.enable"
        ),
    ]


ROUTES: list[BaseRoute] = [*_routes(), *admin_teams.ROUTES]
