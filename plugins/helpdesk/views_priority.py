"""The priority admin page: the impact x urgency matrix, one priority per cell (admins only).

``GET /helpdesk/admin/priority`` shows the nine cells; ``POST`` saves them
all at once. A missing or bad cell answers 422 with the page again, what was
posted kept and the error beside its control; nothing is saved unless all
nine are valid. New tickets get the new priorities; tickets already
prioritised keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.contrib import NavItem
from engine.web.access import page
from engine.web.admin_support import notice, read, redirect, text, write
from engine.web.forms import Option
from plugins.helpdesk.models import LEVELS3
from plugins.helpdesk.priority import (
    PRIORITIES,
    PRIORITY_NAMES,
    PriorityError,
    check_priority,
    matrix,
    save_matrix,
)

PATH = "/helpdesk/admin/priority"
TEMPLATE = "helpdesk/priority.html"
NOTICES = {"saved": "The priority matrix was saved. New tickets get these priorities."}
LEVEL_LABELS = {"high": "High", "medium": "Medium", "low": "Low"}


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix as printed: its control, its options and its error."""

    field: str
    label: str
    options: tuple[Option, ...]
    error: str = ""


@dataclass(frozen=True)
class Row:
    impact: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class MatrixPage:
    urgencies: tuple[str, ...]
    rows: tuple[Row, ...]
    problems: tuple[tuple[str, str], ...]


def field_name(impact: str, urgency: str) -> str:
    """The form field of a cell: ``impact-<impact>-urgency-<urgency>``."""
    return f"impact-{impact}-urgency-{urgency}"


def _page_state(
    values: dict[tuple[str, str], str], errors: dict[tuple[str, str], str]
) -> MatrixPage:
    rows = []
    for impact in LEVELS3:
        cells = []
        for urgency in LEVELS3:
            chosen = values.get((impact, urgency), "")
            cells.append(
                Cell(
                    field=field_name(impact, urgency),
                    label=f"Priority for {impact} impact and {urgency} urgency",
                    options=tuple(
                        Option(
                            f"{field_name(impact, urgency)}-{p}",
                            str(p),
                            PRIORITY_NAMES[p],
                            str(p) == chosen,
                        )
                        for p in PRIORITIES
                    ),
                    error=errors.get((impact, urgency), ""),
                )
            )
        rows.append(Row(LEVEL_LABELS[impact], tuple(cells)))
    problems = tuple(
        (f"#{field_name(*cell)}", f"{cell[0].capitalize()} impact, {cell[1]} urgency: {message}")
        for cell, message in errors.items()
    )
    return MatrixPage(tuple(LEVEL_LABELS[u] for u in LEVELS3), tuple(rows), problems)


def _stored(db: Session) -> dict[tuple[str, str], str]:
    return {cell: str(priority) for cell, priority in matrix(db).items()}


async def _render(
    request: Request,
    values: dict[tuple[str, str], str] | None = None,
    errors: dict[tuple[str, str], str] | None = None,
    status: int = 200,
) -> Response:
    if values is None:
        values = await read(request, _stored)
    state = _page_state(values, errors or {})
    return request.app.state.templates.TemplateResponse(
        request,
        TEMPLATE,
        {"page": state, "notice": notice(request, NOTICES)},
        status_code=status,
    )


async def priority_page(request: Request) -> Response:
    """GET /helpdesk/admin/priority: the impact x urgency matrix, every cell editable."""
    return await _render(request)


async def priority_save(request: Request) -> Response:
    """POST /helpdesk/admin/priority: save all nine cells, or 422 with each cell's error."""
    form = await request.form()
    values: dict[tuple[str, str], str] = {}
    cells: dict[tuple[str, str], int] = {}
    errors: dict[tuple[str, str], str] = {}
    for impact in LEVELS3:
        for urgency in LEVELS3:
            raw = text(form, field_name(impact, urgency)).strip()
            values[(impact, urgency)] = raw[:20]
            try:
                cells[(impact, urgency)] = check_priority(raw)
            except PriorityError:
                errors[(impact, urgency)] = "choose a priority from 1 (critical) to 4 (low)"
    if errors:
        return await _render(request, values, errors, 422)
    await write(request, lambda db: save_matrix(db, cells))
    return redirect(request, "helpdesk.priority", "saved")


ROUTES: list[BaseRoute] = [
    page(PATH, priority_page, allow="admin", name="helpdesk.priority"),
    page(PATH, priority_save, allow="admin", methods=("POST",), name="helpdesk.priority.save"),
]

NAVIGATION = [NavItem("Priorities", PATH, roles=frozenset({"admin"}), order=93)]
