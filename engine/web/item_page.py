"""What the work item page shows, computed from the database for one viewer.

:func:`load_item_page` reads the item with its events, comments and open tasks
in one session and returns an :class:`ItemPage` of plain values: the template
only loops and prints. Whether the viewer may see the item, cancel it, open or
claim its tasks, and which events and comments they see is decided here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.comments import is_staff
from engine.contrib import ItemSection
from engine.dsl.forms import Form, FormField
from engine.model import Comment, Event, Person, Task, Team, WorkItem
from engine.plugins import PluginManager
from engine.signals import Offered, item_workflow, offered_now
from engine.web.access import Viewer, can_act_on_task, can_view_work_item
from engine.web.forms import FormInput, Widget, widgets
from engine.web.timeline import Moment, Names, event_sentence, for_requester, moment

MAX_ID = 2**31 - 1
"""Ids above this are no work item (and would overflow PostgreSQL's integer)."""

CLOSED_STATUSES = frozenset({"closed", "cancelled"})
RESOLVED_STATUSES = frozenset({"resolved"})
"""Done but not closed yet: the requester may reply (reopen), no longer withdraw."""


@dataclass(frozen=True)
class Field:
    """One custom field: its label (from the intake form, else its key) and its value as text."""

    label: str
    value: str


@dataclass(frozen=True)
class TimelineEntry:
    at: Moment
    text: str


Text = list[list[str]]
"""Paragraphs of lines: what people typed, for a template to print without markup."""


@dataclass(frozen=True)
class CommentView:
    author: str
    body: Text
    public: bool
    at: Moment


@dataclass(frozen=True)
class OpenTask:
    id: int
    title: str
    step: str
    team: str
    assignee: str
    due: Moment | None
    overdue: bool
    can_open: bool
    can_claim: bool


@dataclass(frozen=True)
class Section:
    """A plugin's panel as the page prints it: a heading, then the plugin's template."""

    heading_id: str
    title: str
    template: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class ItemPage:
    """Everything the work item page prints."""

    id: int
    heading: str
    reference: str
    title: str
    kind: str
    type: str
    status: str
    priority: str
    channel: str
    requester: str
    owner_team: str
    current_team: str
    assignee: str
    created: Moment | None
    due: Moment | None
    closed: Moment | None
    description: Text
    fields: list[Field]
    timeline: list[TimelineEntry]
    comments: list[CommentView]
    tasks: list[OpenTask]
    sections: list[Section]
    staff: bool
    may_cancel: bool
    is_closed: bool
    workflow_id: str | None
    signals: list[Offered] = dataclass_field(default_factory=list)
    """The signals the viewer may send the item's run now."""

    is_requester: bool = False
    """Whether the viewer asked for the item."""
    is_resolved: bool = False

    @property
    def can_cancel(self) -> bool:
        """Whether the page offers the cancel form."""
        return self.may_cancel and not self.is_closed

    @property
    def can_withdraw(self) -> bool:
        """Whether the page offers "Withdraw my request": the requester's, until it is resolved."""
        return self.is_requester and not (self.is_closed or self.is_resolved)


def is_closed(item: WorkItem) -> bool:
    """Whether ``item`` is over (closed or cancelled): there is nothing left to cancel."""
    return item.closed_at is not None or item.status in CLOSED_STATUSES


def may_cancel(viewer: Viewer, item: WorkItem) -> bool:
    """Administrators and members of the item's owner team may cancel it."""
    return viewer.is_admin or (
        item.owner_team_id is not None and item.owner_team_id in viewer.team_ids
    )


def find_item(db: Session, item_id: int, viewer: Viewer) -> WorkItem | None:
    """Work item ``item_id`` if it exists and ``viewer`` may see it; ``None`` either way."""
    if not 0 < item_id <= MAX_ID:
        return None
    item = db.get(WorkItem, item_id)
    return item if item is not None and can_view_work_item(viewer, item) else None


def load_item_page(
    db: Session, item_id: int, viewer: Viewer, now: datetime, pm: PluginManager | None = None
) -> ItemPage | None:
    """The page of work item ``item_id`` for ``viewer``; ``None`` if they may not see it.

    With ``pm``, plugins add their panels (``tierflow_work_item_sections``).
    """
    item = find_item(db, item_id, viewer)
    if item is None:
        return None
    staff = is_staff(viewer.roles)
    reference = item.reference or f"#{item.id}"
    return ItemPage(
        id=item.id,
        heading=f"{reference}: {item.title}",
        reference=reference,
        title=item.title,
        kind=item.kind,
        type=item.type,
        status=item.status,
        priority=str(item.priority) if item.priority is not None else "—",
        channel=item.channel or "—",
        requester=item.requester.name if item.requester else "—",
        owner_team=item.owner_team.name if item.owner_team else "—",
        current_team=item.current_team.name if item.current_team else "—",
        assignee=item.assignee.name if item.assignee else "Unassigned",
        created=_moment(item.created_at),
        due=_moment(item.due_at),
        closed=_moment(item.closed_at),
        description=paragraphs(item.description),
        fields=custom_fields(item.custom, intake_form(db, item)),
        timeline=_timeline(db, item, staff, pm),
        comments=[
            CommentView(
                author=c.author.name if c.author else "Someone",
                body=paragraphs(c.body),
                public=c.public,
                at=moment(c.created_at),
            )
            for c in shown_comments(item, staff)
        ],
        tasks=_open_tasks(item, viewer, now) if staff else [],
        sections=sections(pm, item, viewer, db) if pm is not None else [],
        staff=staff,
        may_cancel=may_cancel(viewer, item),
        is_closed=is_closed(item),
        workflow_id=item.workflow_id,
        signals=offered_now(db, item, viewer),
        is_requester=item.requester_id is not None and item.requester_id == viewer.person_id,
        is_resolved=item.status in RESOLVED_STATUSES,
    )


def paragraphs(text: str) -> Text:
    """``text`` as paragraphs (split at blank lines) of lines; nothing for blank text."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").strip())
    return [block.split("\n") for block in blocks if block.strip()]


def _moment(value: datetime | None) -> Moment | None:
    return moment(value) if value is not None else None


# ------------------------------------------------------------ custom fields ---


def intake_form(db: Session, item: WorkItem) -> Form | None:
    """The intake form of the item's workflow (the version it runs), if it has one."""
    workflow = item_workflow(db, item)
    name = workflow.start.form if workflow is not None else None
    return workflow.forms.get(name) if workflow is not None and name else None


def custom_fields(custom: object, form: Form | None) -> list[Field]:
    """The item's custom fields in the form's order (labelled by it), then any others by key."""
    values: dict[str, Any] = dict(custom) if isinstance(custom, dict) else {}
    shown = []
    for spec in form.fields if form is not None else ():
        if spec.name in values:
            shown.append(Field(spec.title, _value(values.pop(spec.name), spec)))
    shown += [Field(str(key), _value(value, None)) for key, value in values.items()]
    return shown


def _value(value: object, spec: FormField | None) -> str:
    labels = {c.value: c.text for c in spec.choices} if spec is not None else {}
    if value is None or value in ("", []):
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), _value(v, None)) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return labels.get(str(value), str(value))


# ------------------------------------------------------------------ signals ---


@dataclass(frozen=True)
class SignalView:
    """A signal the page offers: a button, or a small form of its fields."""

    name: str
    label: str
    widgets: list[Widget]
    problem: str = ""


def signal_views(
    offered: list[Offered],
    kept: str = "",
    submitted: FormInput | None = None,
    errors: Mapping[str, list[str]] | None = None,
    problem: str = "",
) -> list[SignalView]:
    """The page's signals; the one named ``kept`` with what was posted and its errors."""
    return [
        SignalView(
            o.name,
            o.label,
            widgets(o.form, submitted=submitted if o.name == kept else None,
                    errors=errors if o.name == kept else None) if o.form else [],
            problem if o.name == kept else "",
        )
        for o in offered
    ]  # fmt: skip


# ----------------------------------------------------------------- sections ---


def sections(pm: PluginManager, item: WorkItem, viewer: Viewer, db: Session) -> list[Section]:
    """The plugins' panels for ``viewer`` on ``item``, lowest ``order`` first, then by title."""
    found = pm.collect(
        "tierflow_work_item_sections", expect=ItemSection, item=item, viewer=viewer, session=db
    )
    ordered = sorted((s for _, s in found), key=lambda s: (s.order, s.title))
    return [
        Section(f"section-{n}-{_slug(s.title)}", s.title, s.template, s.context)
        for n, s in enumerate(ordered, start=1)
    ]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "panel"


# ----------------------------------------------------------------- timeline ---


def shown_events(db: Session, item: WorkItem, staff: bool) -> list[Event]:
    """The events of ``item`` a viewer sees, oldest first: all for staff, else a requester's.

    The one filter of the requester's timeline, for the page and the API alike
    (:func:`engine.web.timeline.for_requester` decides each event).
    """
    requester = item.requester.email if item.requester else None
    events = _events(db, item.id)
    return [e for e in events if staff or for_requester(e.type, e.data, requester)]


def shown_comments(item: WorkItem, staff: bool) -> list[Comment]:
    """The comments of ``item`` a viewer sees: all for staff, the public ones for others."""
    return [c for c in item.comments if staff or c.public]


def _timeline(
    db: Session, item: WorkItem, staff: bool, pm: PluginManager | None = None
) -> list[TimelineEntry]:
    events = shown_events(db, item, staff)
    names = _names(db, item, events)
    return [TimelineEntry(moment(e.occurred_at), event_sentence(e, names, pm)) for e in events]


def _events(db: Session, item_id: int) -> list[Event]:
    query = (
        select(Event)
        .where(Event.work_item_id == item_id)
        .options(selectinload(Event.actor))
        .order_by(Event.occurred_at, Event.id)
    )
    return list(db.scalars(query))


def _names(db: Session, item: WorkItem, events: list[Event]) -> Names:
    """Names of the teams, people and tasks ``events`` may refer to (by slug, e-mail, id)."""
    keys = {key for event in events for key in _strings(event.data)}
    teams: dict[str, str] = {}
    people: dict[str, str] = {}
    if keys:
        teams = dict(
            db.execute(select(Team.slug, Team.name).where(Team.slug.in_(keys))).tuples().all()
        )
        query = select(Person.email, Person.name).where(Person.email.in_(keys))
        people = dict(db.execute(query).tuples().all())
    return Names(
        teams=teams,
        people=people,
        tasks={task.id: task.title or task.step_id for task in item.tasks},
    )


def _strings(data: object, depth: int = 0) -> set[str]:
    """The short strings in ``data`` and in the mappings inside it: candidate slugs and e-mails."""
    if isinstance(data, str):
        return {data} if len(data) <= 200 else set()
    if isinstance(data, dict) and depth < 2:
        return {found for value in data.values() for found in _strings(value, depth + 1)}
    return set()


# -------------------------------------------------------------- open tasks ---


def _open_tasks(item: WorkItem, viewer: Viewer, now: datetime) -> list[OpenTask]:
    return [_open_task(task, viewer, now) for task in item.tasks if task.status == "open"]


def _open_task(task: Task, viewer: Viewer, now: datetime) -> OpenTask:
    due = task.due_at
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return OpenTask(
        id=task.id,
        title=task.title or task.step_id,
        step=task.step_id,
        team=task.team.name if task.team else "—",
        assignee=task.assignee.name if task.assignee else "Unassigned",
        due=_moment(due),
        overdue=due is not None and due < now,
        can_open=can_act_on_task(viewer, task),
        can_claim=(
            (viewer.is_agent or viewer.is_admin)
            and task.assignee_id is None
            and task.team_id is not None
            and task.team_id in viewer.team_ids
        ),
    )
