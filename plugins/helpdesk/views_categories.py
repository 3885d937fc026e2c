"""The categories admin page: request categories, their parents and default teams (admins).

``/helpdesk/admin/categories`` lists every category; ``.../new`` adds one and
``.../{id}`` edits one (a slug that tickets or skills name already is shown,
not offered). A refused form answers 422 with each field's error and the
input kept; nothing is written then. ``.../{id}/deactivate`` takes a category
off the lists new requests choose from; categories are never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.contrib import NavItem
from engine.model import Team
from engine.web.access import page
from engine.web.admin_support import (
    Field,
    missing,
    notice,
    read,
    redirect,
    submitted,
    widgets,
    write,
)
from engine.web.forms import Widget
from plugins.helpdesk.categories import Checked, check, deactivate, in_use, path_name, save
from plugins.helpdesk.models import Category, Skill, Ticket

PATH = "/helpdesk/admin/categories"
NOTICES = {
    "saved": "The category was saved.",
    "deactivated": "The category was deactivated: new requests can no longer choose it.",
}


@dataclass(frozen=True)
class CategoryRow:
    """One category of the list."""

    id: int
    name: str
    slug: str
    default_team: str
    tickets: int
    skills: int
    active: bool


@dataclass(frozen=True)
class CategoryForm:
    """The add or edit form: its widgets, and the fixed slug when it cannot change."""

    category_id: int | None
    widgets: list[Widget]
    fixed_slug: str
    active: bool


def _rows(db: Session) -> list[CategoryRow]:
    categories = list(db.scalars(select(Category)))
    by_id = {row.id: row for row in categories}
    teams = dict(db.execute(select(Team.id, Team.name)).tuples().all())
    tickets = dict(
        db.execute(select(Ticket.category_id, func.count()).group_by(Ticket.category_id))
        .tuples()
        .all()
    )
    skills = dict(
        db.execute(select(Skill.category_id, func.count()).group_by(Skill.category_id))
        .tuples()
        .all()
    )
    rows = [
        CategoryRow(
            id=row.id,
            name=path_name(row, by_id),
            slug=row.slug,
            default_team=teams.get(row.default_team_id, "—") if row.default_team_id else "—",
            tickets=tickets.get(row.id, 0),
            skills=skills.get(row.id, 0),
            active=row.active,
        )
        for row in categories
    ]
    return sorted(rows, key=lambda row: (row.name.lower(), row.id))


def _fields(db: Session, category_id: int | None, slug_fixed: bool) -> list[Field]:
    by_id = {row.id: row for row in db.scalars(select(Category))}
    parents = sorted(
        (
            (str(row.id), path_name(row, by_id) + ("" if row.active else " (inactive)"))
            for row in by_id.values()
            if row.id != category_id
        ),
        key=lambda pair: pair[1].lower(),
    )
    teams = [
        (str(team.id), team.name)
        for team in db.scalars(select(Team).where(Team.active).order_by(Team.name))
    ]
    slug = Field("slug", "Slug", required=True, attrs=(("maxlength", "64"),),
                 help="What forms and reports name it by: lower-case, such as network. "
                      "It cannot change once a ticket or a skill names it.")  # fmt: skip
    return [
        Field("name", "Name", required=True, attrs=(("maxlength", "200"),)),
        *([] if slug_fixed else [slug]),
        Field("parent", "Parent category", control="select",
              options=(("", "(none: a top-level category)"), *parents)),
        Field("default_team", "Default team", control="select",
              options=(("", "(none)"), *teams),
              help="Where new requests of this category go first."),
        Field("active", "Active (new requests can choose it)", control="checkbox"),
    ]  # fmt: skip


def _values(row: Category) -> dict[str, Any]:
    return {
        "name": row.name,
        "slug": row.slug,
        "parent": str(row.parent_id or ""),
        "default_team": str(row.default_team_id or ""),
        "active": "true" if row.active else "",
    }


async def _form_page(
    request: Request,
    category_id: int | None,
    values: dict[str, Any] | None,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    def load(db: Session) -> CategoryForm | None:
        row = db.get(Category, category_id) if category_id is not None else None
        if category_id is not None and row is None:
            return None
        fixed = row is not None and in_use(db, row.id)
        shown = values if values is not None else (_values(row) if row else {"active": "true"})
        return CategoryForm(
            category_id,
            widgets(_fields(db, category_id, fixed), shown, errors),
            row.slug if fixed and row else "",
            row.active if row else True,
        )

    form = await read(request, load)
    if form is None:
        return missing(request, f"category {category_id}", PATH)
    return request.app.state.templates.TemplateResponse(
        request, "helpdesk/categories_form.html", {"form": form}, status_code=status
    )


async def categories_page(request: Request) -> Response:
    """GET /helpdesk/admin/categories: every category, active or not."""
    rows = await read(request, _rows)
    return request.app.state.templates.TemplateResponse(
        request,
        "helpdesk/categories.html",
        {"rows": rows, "notice": notice(request, NOTICES)},
    )


async def category_new(request: Request) -> Response:
    """GET /helpdesk/admin/categories/new: the form for a new category."""
    return await _form_page(request, None, None, {})


async def category_edit(request: Request) -> Response:
    """GET /helpdesk/admin/categories/{id}: a category's form, filled in."""
    return await _form_page(request, request.path_params["category_id"], None, {})


async def category_save(request: Request) -> Response:
    """POST .../new or .../{id}: save the category, or 422 with the errors and the input kept."""
    category_id = request.path_params.get("category_id")
    posted = submitted(await request.form())

    def run(db: Session) -> Checked | None:
        if category_id is not None and db.get(Category, category_id) is None:
            return None
        checked = check(db, posted, category_id)
        if not checked.errors:
            save(db, checked.values, category_id)
        return checked

    checked = await write(request, run)
    if checked is None:
        return missing(request, f"category {category_id}", PATH)
    if checked.errors:
        return await _form_page(request, category_id, posted, checked.errors, 422)
    return redirect(request, "helpdesk.categories", "saved")


async def category_deactivate(request: Request) -> Response:
    """POST .../{id}/deactivate: take the category off new requests' choices (never deleted)."""
    category_id = request.path_params["category_id"]
    if not await write(request, lambda db: deactivate(db, category_id)):
        return missing(request, f"category {category_id}", PATH)
    return redirect(request, "helpdesk.categories", "deactivated")


ROUTES: list[BaseRoute] = [
    page(PATH, categories_page, allow="admin", name="helpdesk.categories"),
    page(f"{PATH}/new", category_new, allow="admin", name="helpdesk.categories.new"),
    page(f"{PATH}/new", category_save, allow="admin", methods=("POST",),
         name="helpdesk.categories.add"),
    page(f"{PATH}/{{category_id:int}}", category_edit, allow="admin",
         name="helpdesk.categories.edit"),
    page(f"{PATH}/{{category_id:int}}", category_save, allow="admin", methods=("POST",),
         name="helpdesk.categories.save"),
    page(f"{PATH}/{{category_id:int}}/deactivate", category_deactivate, allow="admin",
         methods=("POST",), name="helpdesk.categories.deactivate"),
]  # fmt: skip

NAVIGATION = [NavItem("Categories", PATH, roles=frozenset({"admin"}), order=91)]
