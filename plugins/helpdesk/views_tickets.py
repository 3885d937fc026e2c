"""The staff ticket list: ``/helpdesk/tickets`` (agents, managers, administrators).

Every ticket the viewer may see, filtered by team, assignee, status,
priority, category, SLA state, channel and a search in title and reference,
sorted by resolution due, priority or age, 50 a page (keyset cursors, see
:mod:`plugins.helpdesk.tickets`). A filter value the list does not know
answers 400 naming the parameter; each row links to the ticket's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.contrib import NavItem
from engine.dsl.spec import CHANNELS
from engine.model import PRIORITIES, Team
from engine.web.access import Viewer, page, viewer_of
from engine.web.admin_support import read
from engine.web.errors import error_response
from engine.web.forms import Option
from plugins.helpdesk.categories import active_choices
from plugins.helpdesk.tickets import (
    ASSIGNEES,
    SLA_STATES,
    SORTS,
    STATUSES,
    BadFilter,
    TicketFilter,
    TicketRow,
    parse_filter,
    ticket_page,
)

PATH = "/helpdesk/tickets"
FILTERS = ("owner_team", "current_team", "assignee", "status", "priority", "category", "sla",
           "channel", "q", "sort")  # fmt: skip
LABELS = {
    "anyone": "Anyone", "me": "Me", "unassigned": "Unassigned",
    "open": "Open (not resolved or closed)", "waiting": "Waiting", "resolved": "Resolved",
    "closed": "Closed", "all": "All",
    "breached": "Breached", "warned": "Warned", "paused": "Paused", "on_track": "On track",
    "due": "Resolution due", "priority": "Priority", "age": "Age (oldest first)",
    "none": "No SLA",
}  # fmt: skip


@dataclass(frozen=True)
class Select:
    """One filter control: its parameter, label and options (the chosen one selected)."""

    name: str
    label: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Line:
    """One ticket as the table prints it."""

    href: str
    reference: str
    title: str
    requester: str
    owner_team: str
    current_team: str
    assignee: str
    status: str
    priority: str
    due: str
    sla: str
    age: str


@dataclass(frozen=True)
class ListPage:
    selects: tuple[Select, ...]
    search: str
    lines: tuple[Line, ...]
    next_href: str


def _options(name: str, pairs: list[tuple[str, str]], chosen: str) -> tuple[Option, ...]:
    return tuple(
        Option(f"filter-{name}-{n}", value, label, value == chosen)
        for n, (value, label) in enumerate(pairs)
    )


def _selects(db: Session, params: dict[str, str]) -> tuple[Select, ...]:
    teams = [
        (slug, name) for slug, name in db.execute(select(Team.slug, Team.name).order_by(Team.name))
    ]
    fixed = {
        "assignee": [(v, LABELS[v]) for v in ASSIGNEES],
        "status": [(v, LABELS[v]) for v in STATUSES],
        "sla": [("", "Any"), *((v, LABELS[v]) for v in SLA_STATES)],
        "sort": [(v, LABELS[v]) for v in SORTS],
    }
    listed = {
        "owner_team": ("Owner team", [("", "Any"), *teams]),
        "current_team": ("Current team", [("", "Any"), *teams]),
        "assignee": ("Assignee", fixed["assignee"]),
        "status": ("Status", fixed["status"]),
        "priority": ("Priority", [("", "Any"), *((str(p), f"P{p}") for p in PRIORITIES)]),
        "category": ("Category", [("", "Any"), *active_choices(db)]),
        "sla": ("SLA", fixed["sla"]),
        "channel": ("Channel", [("", "Any"), *((c, c.capitalize()) for c in CHANNELS)]),
        "sort": ("Sort by", fixed["sort"]),
    }
    defaults = {"assignee": "anyone", "status": "open", "sort": "due"}
    return tuple(
        Select(name, label, _options(name, pairs, params.get(name) or defaults.get(name, "")))
        for name, (label, pairs) in listed.items()
    )


def age_text(since: datetime, now: datetime) -> str:
    """How long ago, as people say it: 12 min, 5 h, 3 d."""
    minutes = max(0, int((now - since) / timedelta(minutes=1)))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 60 * 48 else f"{minutes // (60 * 24)} d"


def _line(row: TicketRow, now: datetime) -> Line:
    done = row.status in ("resolved", "closed", "cancelled")
    sla = "Met" if row.sla_state == "on_track" and done else LABELS[row.sla_state]
    return Line(
        href=f"/items/{row.id}",
        reference=row.reference,
        title=row.title,
        requester=row.requester,
        owner_team=row.owner_team,
        current_team=row.current_team,
        assignee=row.assignee,
        status=row.status,
        priority=f"P{row.priority}" if row.priority else "—",
        due=f"{row.resolution_due:%Y-%m-%d %H:%M} UTC" if row.resolution_due else "—",
        sla=sla,
        age=age_text(row.created_at, now),
    )


def _load(db: Session, viewer: Viewer, params: dict[str, str], after: str | None) -> ListPage | str:
    try:
        wanted: TicketFilter = parse_filter(db, params)
        found = ticket_page(db, viewer, wanted, after)
    except BadFilter as exc:
        return str(exc)
    now = datetime.now(UTC)
    kept = {name: value for name, value in params.items() if value}
    next_href = ""
    if found.next_cursor:
        next_href = f"{PATH}?{urlencode({**kept, 'after': found.next_cursor})}"
    return ListPage(
        _selects(db, params),
        params.get("q", ""),
        tuple(_line(row, now) for row in found.rows),
        next_href,
    )


async def ticket_list(request: Request) -> Response:
    """GET /helpdesk/tickets: one page of the tickets the viewer may see (400 for a bad filter)."""
    query = request.query_params
    params = {name: query.get(name, "") for name in FILTERS}
    after = query.get("after") or None
    viewer = viewer_of(request)
    found = await read(request, lambda db: _load(db, viewer, params, after))
    if isinstance(found, str):
        return error_response(request, 400, f"The ticket list cannot show this: {found}.")
    return request.app.state.templates.TemplateResponse(
        request, "helpdesk/tickets.html", {"page": found}
    )


ROUTES: list[BaseRoute] = [
    page(PATH, ticket_list, allow=("agent", "manager"), name="helpdesk.tickets"),
]

NAVIGATION = [
    NavItem("Tickets", PATH, roles=frozenset({"agent", "manager"}), order=12),
]
