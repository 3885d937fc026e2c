"""The data behind the staff ticket list: filtered, sorted ticket rows, page by page.

:func:`parse_filter` turns a page's query parameters into a
:class:`TicketFilter` (:class:`BadFilter`, naming the parameter and the value,
for anything it does not know); :func:`ticket_page` reads one page of the
tickets the viewer may see. What a viewer may see is
:func:`engine.web.access.can_view_work_item` written as SQL, so a page is cut
by the database: managers and administrators see every ticket; agents what
they requested, what is assigned to them, what one of their teams owns or
works now, and what they or their teams had a task on.

Pages are cut by keyset: a page ends with a cursor holding the last row's sort
value and id, and the next page starts after it, so a page costs the same
wherever it is and rows are neither skipped nor repeated while tickets change.
Every order is total (ties go to the id) and puts tickets without the value
(no SLA clock, no priority) last.

The SLA state comes from the ticket's facts row (its deadlines and recorded
breaches) and its SLA events: ``breached`` (a target breached), ``paused``
(the last clock event is ``sla_paused``), ``warned`` (a warning recorded),
``on_track`` (a clock runs, none of these), ``none`` (no clock).
No function here commits.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, or_, select, true
from sqlalchemy.orm import Session, aliased

from engine.dsl.spec import CHANNELS
from engine.errors import TierflowError
from engine.model import PRIORITIES, Event, Person, Task, Team, WorkItem
from engine.web.access import Viewer
from engine.web.admin_support import as_id
from plugins.helpdesk.models import Category, Ticket

STATUSES = ("open", "waiting", "resolved", "closed", "all")
"""``open``: every ticket not resolved, closed or cancelled (waiting ones too)."""
WAITING = ("waiting", "waiting_vendor")
"""The statuses ``waiting`` lists: waiting for the requester or for a supplier."""
DONE = ("resolved", "closed", "cancelled")
ASSIGNEES = ("anyone", "me", "unassigned")
SLA_STATES = ("breached", "warned", "paused", "on_track")
SORTS = ("due", "priority", "age")
"""Resolution due (soonest first), priority (1 first), age (oldest first)."""
PAGE_SIZE = 50
MAX_SEARCH = 200
CLOCK_EVENTS = ("sla_started", "sla_paused", "sla_resumed", "sla_stopped")


class BadFilter(TierflowError, ValueError):
    """A filter value the list does not know; the message names the parameter and the fix."""


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a page shows and in what order (teams and category by id once parsed)."""

    owner_team: int | None = None
    current_team: int | None = None
    assignee: str = "anyone"
    status: str = "open"
    priority: int | None = None
    category: int | None = None
    sla: str | None = None
    channel: str | None = None
    search: str = ""
    sort: str = "due"


@dataclass(frozen=True)
class TicketRow:
    """One ticket of a page, as the list prints it."""

    id: int
    reference: str
    title: str
    requester: str
    owner_team: str
    current_team: str
    assignee: str
    status: str
    priority: int | None
    resolution_due: datetime | None
    sla_state: str
    created_at: datetime


@dataclass(frozen=True)
class TicketPage:
    rows: tuple[TicketRow, ...]
    next_cursor: str | None


# ------------------------------------------------------------------ filter --


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, "") or default
    if value not in allowed:
        raise BadFilter(
            f"{name}={value[:40]!r} is not a choice of the ticket list; "
            f"give one of: {', '.join(allowed)}"
        )
    return value


def _by_slug(session: Session, params: Mapping[str, str], name: str, model: Any) -> int | None:
    slug = params.get(name, "")
    if not slug:
        return None
    found = session.scalar(select(model.id).where(model.slug == slug[:64]))
    if found is None or len(slug) > 64:
        what = "team" if model is Team else "category"
        raise BadFilter(f"{name}={slug[:40]!r}: there is no {what} with that slug")
    return int(found)


def parse_filter(session: Session, params: Mapping[str, str]) -> TicketFilter:
    """The filter the query ``params`` ask for; :class:`BadFilter` for a value it does not know."""
    priority = params.get("priority", "")
    if priority and priority not in {str(p) for p in PRIORITIES}:
        raise BadFilter(f"priority={priority[:40]!r} is not a priority; give 1 (critical) to 4")
    search = params.get("q", "").strip()
    if len(search) > MAX_SEARCH or "\x00" in search:
        raise BadFilter(f"q: search for at most {MAX_SEARCH} characters, without NUL characters")
    return TicketFilter(
        owner_team=_by_slug(session, params, "owner_team", Team),
        current_team=_by_slug(session, params, "current_team", Team),
        assignee=_choice(params, "assignee", ASSIGNEES, "anyone"),
        status=_choice(params, "status", STATUSES, "open"),
        priority=int(priority) if priority else None,
        category=_by_slug(session, params, "category", Category),
        sla=_choice(params, "sla", ("", *SLA_STATES), "") or None,
        channel=_choice(params, "channel", ("", *CHANNELS), "") or None,
        search=search,
        sort=_choice(params, "sort", SORTS, "due"),
    )


# -------------------------------------------------------------- who, what --


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """The tickets ``viewer`` may see, as :func:`~engine.web.access.can_view_work_item` decides."""
    if viewer.is_anonymous:
        return false()
    if viewer.is_admin or viewer.has("manager"):
        return true()
    mine = WorkItem.requester_id == viewer.person_id
    if not (viewer.is_agent or viewer.has("project_manager")):
        return mine
    teams = tuple(viewer.team_ids)
    worked = (
        select(Task.id)
        .where(
            Task.work_item_id == WorkItem.id,
            or_(Task.assignee_id == viewer.person_id, Task.team_id.in_(teams)),
        )
        .exists()
    )
    return or_(
        mine,
        WorkItem.assignee_id == viewer.person_id,
        WorkItem.current_team_id.in_(teams),
        WorkItem.owner_team_id.in_(teams),
        worked,
    )


def _sla_parts() -> dict[str, ColumnElement[bool]]:
    later = aliased(Event)
    paused = (
        select(Event.id)
        .where(
            Event.work_item_id == WorkItem.id,
            Event.type == "sla_paused",
            ~select(later.id)
            .where(
                later.work_item_id == Event.work_item_id,
                later.type.in_(CLOCK_EVENTS),
                or_(
                    later.occurred_at > Event.occurred_at,
                    and_(later.occurred_at == Event.occurred_at, later.id > Event.id),
                ),
            )
            .exists(),
        )
        .exists()
    )
    warned = (
        select(Event.id)
        .where(Event.work_item_id == WorkItem.id, Event.type == "sla_warning")
        .exists()
    )
    breached = or_(Ticket.response_breached.is_(True), Ticket.resolution_breached.is_(True))
    started = or_(Ticket.response_due_at.is_not(None), Ticket.resolution_due_at.is_not(None))
    return {"breached": breached, "paused": paused, "warned": warned, "started": started}


def sla_state() -> ColumnElement[str]:
    """The SLA state of the ticket in the query (``helpdesk_ticket`` outer-joined)."""
    parts = _sla_parts()
    return case(
        (parts["breached"], "breached"),
        (parts["paused"], "paused"),
        (parts["warned"], "warned"),
        (parts["started"], "on_track"),
        else_="none",
    )


def _sla_condition(state: str) -> ColumnElement[bool]:
    parts = _sla_parts()
    steps = ("breached", "paused", "warned", "started")
    wanted = "started" if state == "on_track" else state
    earlier = [~parts[name] for name in steps[: steps.index(wanted)]]
    return and_(parts[wanted], *earlier)


def _conditions(wanted: TicketFilter, viewer: Viewer) -> list[ColumnElement[bool]]:
    where = [WorkItem.kind == "ticket", visible_to(viewer)]
    if wanted.status == "open":
        where.append(WorkItem.status.not_in(DONE))
    elif wanted.status == "waiting":
        where.append(WorkItem.status.in_(WAITING))
    elif wanted.status != "all":
        where.append(WorkItem.status == wanted.status)
    for column, value in (
        (WorkItem.owner_team_id, wanted.owner_team),
        (WorkItem.current_team_id, wanted.current_team),
        (WorkItem.priority, wanted.priority),
        (WorkItem.channel, wanted.channel),
        (Ticket.category_id, wanted.category),
    ):
        if value is not None:
            where.append(column == value)
    if wanted.assignee == "me":
        where.append(WorkItem.assignee_id == viewer.person_id)
    elif wanted.assignee == "unassigned":
        where.append(WorkItem.assignee_id.is_(None))
    if wanted.sla is not None:
        where.append(_sla_condition(wanted.sla))
    if wanted.search:
        where.append(
            or_(
                WorkItem.title.icontains(wanted.search, autoescape=True),
                WorkItem.reference.icontains(wanted.search, autoescape=True),
            )
        )
    return where


# ------------------------------------------------------------------- pages --


def _sort_column(sort: str) -> Any:
    return {
        "due": Ticket.resolution_due_at,
        "priority": WorkItem.priority,
        "age": WorkItem.created_at,
    }[sort]


def ticket_page(
    session: Session, viewer: Viewer, wanted: TicketFilter, after: str | None = None
) -> TicketPage:
    """The page of tickets ``viewer`` may see that match ``wanted``, after cursor ``after``."""
    column = _sort_column(wanted.sort)
    query = (
        select(WorkItem.id, column)
        .outerjoin(Ticket, Ticket.work_item_id == WorkItem.id)
        .where(*_conditions(wanted, viewer))
        .order_by(column.is_(None), column, WorkItem.id)
        .limit(PAGE_SIZE + 1)
    )
    if after:
        value, last_id = decode_cursor(after, wanted.sort)
        if value is None:
            query = query.where(column.is_(None), WorkItem.id > last_id)
        else:
            query = query.where(
                or_(
                    column > value,
                    and_(column == value, WorkItem.id > last_id),
                    column.is_(None),
                )
            )
    keys = session.execute(query).all()
    more = len(keys) > PAGE_SIZE
    keys = keys[:PAGE_SIZE]
    cursor = encode_cursor(wanted.sort, keys[-1][1], keys[-1][0]) if more else None
    return TicketPage(_rows(session, [key[0] for key in keys]), cursor)


def _rows(session: Session, ids: list[int]) -> tuple[TicketRow, ...]:
    if not ids:
        return ()
    requester, assignee = aliased(Person), aliased(Person)
    owner, current = aliased(Team), aliased(Team)
    query = (
        select(
            WorkItem.id, WorkItem.reference, WorkItem.title, requester.name, owner.name,
            current.name, assignee.name, WorkItem.status, WorkItem.priority,
            Ticket.resolution_due_at, sla_state(), WorkItem.created_at,
        )
        .outerjoin(Ticket, Ticket.work_item_id == WorkItem.id)
        .outerjoin(requester, requester.id == WorkItem.requester_id)
        .outerjoin(assignee, assignee.id == WorkItem.assignee_id)
        .outerjoin(owner, owner.id == WorkItem.owner_team_id)
        .outerjoin(current, current.id == WorkItem.current_team_id)
        .where(WorkItem.id.in_(ids))
    )  # fmt: skip
    found = {
        row[0]: TicketRow(
            row[0], row[1] or f"#{row[0]}", row[2], *(n or "—" for n in row[3:7]), *row[7:]
        )
        for row in session.execute(query)
    }
    return tuple(found[i] for i in ids if i in found)


# ----------------------------------------------------------------- cursors --


def encode_cursor(sort: str, value: datetime | int | None, item_id: int) -> str:
    """The cursor after the row ``(value, item_id)`` of a list sorted by ``sort``."""
    plain = value.isoformat() if isinstance(value, datetime) else value
    payload = json.dumps([sort, plain, item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """``(sort value, id)`` from ``cursor``; :class:`BadFilter` if it is not one of this sort's."""
    damaged = BadFilter(
        f"after={cursor[:40]!r} is not a page cursor of this list (sorted by {sort}); "
        "start again from the first page"
    )
    try:
        payload = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, value, item_id = json.loads(payload)
    except (binascii.Error, ValueError, TypeError):
        raise damaged from None
    if name != sort or as_id(item_id) is None:
        raise damaged
    if value is None and sort != "age":
        return None, item_id
    if sort == "priority":
        if not isinstance(value, int) or isinstance(value, bool) or value not in PRIORITIES:
            raise damaged
        return value, item_id
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise damaged from None
    if moment.tzinfo is None:
        raise damaged
    return moment, item_id
