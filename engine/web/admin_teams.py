"""Administration of teams: the list, adding one, editing one and its members (admins only).

Workflows name teams by slug, so a slug is checked as workflows check it and
never changed here. Each change is one transaction through :mod:`engine.teams`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.model import Membership, Person, Team
from engine.people import PeopleError, check_email
from engine.teams import add_member, add_team, remove_member, set_member_role, update_team
from engine.web.access import page
from engine.web.admin_support import (
    apply,
    as_id,
    errors_of,
    missing,
    notice,
    read,
    redirect,
    submitted,
    text,
    write,
)
from engine.web.forms import Widget
from engine.web.people_forms import (
    MEMBERSHIP_LABELS,
    member_widgets,
    parse_team,
    team_values,
    team_widgets,
)

NOTICES = {
    "created": "The team was added.",
    "saved": "Your changes were saved.",
    "member_added": "The member was added.",
    "member_role": "Their role in the team was changed.",
    "member_removed": "They are no longer a member of the team.",
}


# ------------------------------------------------------------------ list ---


@dataclass(frozen=True)
class TeamRow:
    """One team in the list, as printed."""

    id: int
    slug: str
    name: str
    tier: str
    members: int
    status: str


def _rows(db: Session) -> list[TeamRow]:
    counted = (
        select(Team, func.count(Membership.person_id))
        .outerjoin(Membership, Membership.team_id == Team.id)
        .group_by(Team.id)
        .order_by(Team.name, Team.slug)
    )
    return [
        TeamRow(team.id, team.slug, team.name, team.tier or "—", members, _active(team.active))
        for team, members in db.execute(counted).tuples()
    ]


def _active(active: bool) -> str:
    return "Active" if active else "Inactive"


async def _list(
    request: Request,
    values: dict[str, str | list[str]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rows = await read(request, _rows)
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/admin/teams.html",
        {
            "rows": rows,
            "widgets": team_widgets(values or {}, errors or {}, new=True),
            "problem": (errors or {}).get("", ""),
        },
        status_code=status,
    )


async def teams_list(request: Request) -> Response:
    """GET /admin/teams: every team with its tier and member count, and the form to add one."""
    return await _list(request)


async def team_create(request: Request) -> Response:
    """POST /admin/teams: add a team; the list again (422) with every error."""
    form = await request.form()
    slug, details, errors = parse_team(form, new=True)
    if not errors and details is not None:
        try:
            team_id = await write(request, lambda db: add_team(db, slug, details).id)
        except PeopleError as exc:
            errors = errors_of(exc)
        else:
            return redirect(request, "admin.team", "created", team_id=team_id)
    return await _list(request, submitted(form), errors, 422)


# -------------------------------------------------------------- one team ---


@dataclass(frozen=True)
class MemberRow:
    """A member of the team, as printed."""

    person_id: int
    name: str
    email: str
    role: str
    role_label: str
    status: str


@dataclass(frozen=True)
class TeamPage:
    id: int
    slug: str
    name: str
    details: list[Widget]
    members: list[MemberRow]
    add_member: list[Widget]
    roles: list[tuple[str, str]]
    problem: str


def _team(db: Session, team_id: int) -> Team | None:
    return db.get(Team, team_id) if as_id(team_id) is not None else None


async def _page(
    request: Request,
    team_id: int,
    *,
    values: dict[str, str | list[str]] | None = None,
    member: dict[str, str | list[str]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """Render the team page; 404 for an id that is no team's."""
    errors = errors or {}

    def load(db: Session) -> TeamPage | None:
        team = _team(db, team_id)
        if team is None:
            return None
        memberships = db.scalars(
            select(Membership)
            .where(Membership.team_id == team.id)
            .options(selectinload(Membership.person))
            .join(Person)
            .order_by(Person.name, Person.email)
        )
        return TeamPage(
            id=team.id,
            slug=team.slug,
            name=team.name,
            details=team_widgets(values or team_values(team), errors, new=False),
            members=[
                MemberRow(
                    m.person_id,
                    m.person.name,
                    m.person.email,
                    m.role,
                    MEMBERSHIP_LABELS.get(m.role, m.role),
                    "Active" if m.person.active else "Disabled",
                )
                for m in memberships
            ],
            add_member=member_widgets(member or {"role": "member"}, errors),
            roles=list(MEMBERSHIP_LABELS.items()),
            problem=errors.get("", ""),
        )

    found = await read(request, load)
    if found is None:
        return missing(request, f"team {team_id}", "/admin/teams")
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/admin/team.html",
        {"team": found, "notice": notice(request, NOTICES)},
        status_code=status,
    )


async def team_page(request: Request) -> Response:
    """GET /admin/teams/{id}: the team's details and members."""
    return await _page(request, request.path_params["team_id"])


async def _change(
    request: Request, change: Callable[[Session, Team], object], done: str
) -> Response | dict[str, str]:
    """Run ``change(db, team)`` in one transaction; a redirect, a 404, or its errors."""
    team_id = request.path_params["team_id"]
    member_id = as_id(request.path_params.get("person_id", 1))

    def find(db: Session) -> Team | None:
        return _team(db, team_id) if member_id is not None else None

    outcome = await apply(request, find, change)
    if outcome is True:
        return redirect(request, "admin.team", done, team_id=team_id)
    return outcome or missing(request, f"team {team_id}", "/admin/teams")


async def team_update(request: Request) -> Response:
    """POST /admin/teams/{id}: change its name, tier, description, e-mail, whether it is active."""
    form = await request.form()
    _, details, errors = parse_team(form, new=False)
    if not errors and details is not None:
        outcome = await _change(request, lambda db, team: update_team(db, team, details), "saved")
        if isinstance(outcome, Response):
            return outcome
        errors = outcome
    team_id = request.path_params["team_id"]
    return await _page(request, team_id, values=submitted(form), errors=errors, status=422)


async def member_add(request: Request) -> Response:
    """POST /admin/teams/{id}/members: add the person with this e-mail as member or lead."""
    form = await request.form()
    typed, role = text(form, "member_email"), text(form, "role") or "member"

    def change(db: Session, team: Team) -> None:
        try:
            email = check_email(typed)
        except ValueError as exc:
            raise PeopleError(str(exc), field="member_email") from None
        person = db.scalars(select(Person).where(Person.email == email)).one_or_none()
        if person is None:
            raise PeopleError(
                f"nobody has the e-mail {email}; add them on the people page first",
                field="member_email",
            )
        add_member(db, team, person, role)

    outcome = await _change(request, change, "member_added")
    if isinstance(outcome, Response):
        return outcome
    team_id = request.path_params["team_id"]
    return await _page(request, team_id, member=submitted(form), errors=outcome, status=422)


async def member_update(request: Request) -> Response:
    """POST /admin/teams/{id}/members/{person_id}: make a member a lead, or a lead a member."""
    role = text(await request.form(), "role")
    person_id = request.path_params["person_id"]
    outcome = await _change(
        request, lambda db, team: set_member_role(db, team, person_id, role), "member_role"
    )
    return await _refused(request, outcome)


async def member_remove(request: Request) -> Response:
    """POST /admin/teams/{id}/members/{person_id}/remove: take them out of the team."""
    person_id = request.path_params["person_id"]
    outcome = await _change(
        request, lambda db, team: remove_member(db, team, person_id), "member_removed"
    )
    return await _refused(request, outcome)


async def _refused(request: Request, outcome: Response | dict[str, str]) -> Response:
    if isinstance(outcome, Response):
        return outcome
    problem = " ".join(message[:1].upper() + message[1:] for message in outcome.values())
    status = 409 if "" in outcome else 422  # gone meanwhile, or a role that is none
    return await _page(request, request.path_params["team_id"], errors={"": problem}, status=status)


def _routes() -> list[BaseRoute]:
    one = "/admin/teams/{team_id:int}"
    member = one + "/members/{person_id:int}"
    post = ("POST",)
    return [
        page("/admin/teams", teams_list, allow="admin", name="admin.teams"),
        page("/admin/teams", team_create, allow="admin", methods=post, name="admin.teams.create"),
        page(one, team_page, allow="admin", name="admin.team"),
        page(one, team_update, allow="admin", methods=post, name="admin.team.update"),
        page(
            f"{one}/members", member_add, allow="admin", methods=post, name="admin.team.members.add"
        ),
        page(member, member_update, allow="admin", methods=post, name="admin.team.member.update"),
        page(
            f"{member}/remove",
            member_remove,
            allow="admin",
            methods=post,
            name="admin.team.member.remove",
        ),
    ]


ROUTES: list[BaseRoute] = _routes()
