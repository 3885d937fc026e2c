"""A ticket's facts for reports, kept up to date from its events as they happen.

First-contact resolution, level-1 resolution, escalation rate, the share of
L1-capable tickets and the dispatch (on-site) rate are all read from the
:class:`~plugins.helpdesk.models.Ticket` row of each ticket. That row is a
function of the ticket's audit trail: :func:`facts_from_events` is that
function, pure (plain values in, plain values out), and :func:`rebuild`
applies it to the database. The event subscriber :func:`on_event` calls
:func:`rebuild` whenever an event that changes a fact is appended, so the
row always equals what the events say: an event heard twice, two events
committed in either order, or a row edited by hand all end in the same
facts. A ticket has tens of events; re-reading them costs one indexed query.

The events read (data keys as the help desk's parts record them):

- ``escalated`` {from_team, to_team, from_tier, to_tier, reason}: one more
  escalation; no longer a first-contact resolution.
- ``de_escalated`` (same keys): no longer a first-contact resolution.
- ``resolved`` {team, tier, resolution_mode, l1_capable, first_contact}, the
  actor being the resolver: the resolving tier, team and person, how
  (remote/on site), whether L1 could have solved it (an L1 resolution: yes,
  by definition, unless it says otherwise), when. First contact when the
  tier is L1, nothing was escalated, de-escalated or reopened before, and
  the resolver did not say otherwise (``first_contact: false``). Once any
  resolution was on site the mode stays ``on_site`` (the ticket was
  dispatched), whatever later resolutions say.
- ``reopened``: one more reopen; the resolution is cleared (an on-site
  dispatch excepted); no longer first contact.
- The **first response** (:func:`responds`, the one definition the SLA clock
  uses too): a task a staff member completed on the ticket, a staff
  member's public ``commented``, a call an agent logged (``created`` by
  staff, channel ``phone``), or the ``first_response`` event the SLA
  subscriber records when the first of them happens.
- ``created`` and ``updated`` (of ``custom``): category, impact and urgency,
  read from the item's custom fields when they hold valid values.
- ``closed``: changes no fact (the item's ``closed_at`` says when).

The SLA columns of the row (policy, targets, breaches) belong to the SLA
clock; nothing here reads or writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.comments import STAFF_ROLES
from engine.model import Event, PersonRole, Team, WorkItem
from plugins.helpdesk.models import LEVELS3, RESOLUTION_MODES, Category, Ticket, ticket_row

TICKET = "ticket"
"""The work-item kind whose facts are kept."""

FIRST_TIER = "L1"
ON_SITE = "on_site"

FACT_EVENTS = frozenset(
    {
        "created",
        "updated",
        "escalated",
        "de_escalated",
        "resolved",
        "reopened",
        "first_response",
        "closed",
        "task_completed",
        "commented",
    }
)
"""The event types that may change a fact; any other event leaves the row alone."""


@dataclass(frozen=True)
class Happening:
    """One event as the facts need it: plain values, its team, whether its actor is staff."""

    id: int
    type: str
    data: Mapping[str, Any]
    occurred_at: datetime
    actor_id: int | None = None
    team: str | None = None
    team_tier: str | None = None
    actor_staff: bool = False


@dataclass(frozen=True)
class TicketFacts:
    """What the events say about a ticket; teams and the category by slug."""

    category: str | None = None
    impact: str | None = None
    urgency: str | None = None
    first_contact: bool | None = None
    resolving_tier: str | None = None
    resolving_team: str | None = None
    resolved_by_id: int | None = None
    escalations: int = 0
    reopens: int = 0
    resolution_mode: str | None = None
    l1_capable: bool | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None


UNRESOLVED = {
    "resolving_tier": None,
    "resolving_team": None,
    "resolved_by_id": None,
    "resolution_mode": None,
    "l1_capable": None,
    "resolved_at": None,
}


# -------------------------------------------------------------------- pure ---


def facts_from_events(item: WorkItem, events: Iterable[Happening]) -> TicketFacts:
    """The facts of ticket ``item`` after ``events`` (in the order they were appended).

    Only ``item.custom`` is read from the item (category, impact, urgency).
    """
    facts = TicketFacts(**classification(item.custom))
    for event in events:
        facts = _after(facts, event)
    return facts


def classification(custom: object) -> dict[str, str | None]:
    """Category (a slug), impact and urgency from custom fields; ``None`` if absent or invalid."""
    fields: Mapping[str, Any] = custom if isinstance(custom, Mapping) else {}

    def level(name: str) -> str | None:
        value = fields.get(name)
        return value if value in LEVELS3 else None

    category = fields.get("category")
    valid = isinstance(category, str) and 0 < len(category) <= 64
    return {
        "category": category if valid else None,
        "impact": level("impact"),
        "urgency": level("urgency"),
    }


def _after(facts: TicketFacts, event: Happening) -> TicketFacts:
    if event.type == "escalated":
        return replace(facts, escalations=facts.escalations + 1, first_contact=False)
    if event.type == "de_escalated":
        return replace(facts, first_contact=False)
    if event.type == "resolved":
        return _resolved(facts, event)
    if event.type == "reopened":
        kept = ON_SITE if facts.resolution_mode == ON_SITE else None
        return replace(
            facts,
            reopens=facts.reopens + 1,
            first_contact=False,
            **{**UNRESOLVED, "resolution_mode": kept},
        )
    if responds(event):
        first = facts.first_response_at
        at = event.occurred_at if first is None else min(first, event.occurred_at)
        return replace(facts, first_response_at=at)
    return facts


def _resolved(facts: TicketFacts, event: Happening) -> TicketFacts:
    data = event.data
    tier = _text(data.get("tier")) or event.team_tier
    tier = tier.upper() if tier else None
    first_contact = (
        tier == FIRST_TIER
        and facts.first_contact is not False
        and facts.escalations == 0
        and facts.reopens == 0
        and data.get("first_contact") is not False
    )
    mode = data.get("resolution_mode")
    mode = ON_SITE if facts.resolution_mode == ON_SITE else mode
    capable = data.get("l1_capable")
    capable = capable if isinstance(capable, bool) else (True if tier == FIRST_TIER else None)
    return replace(
        facts,
        first_contact=first_contact,
        resolving_tier=tier[:16] if tier else None,
        resolving_team=_text(data.get("team")) or event.team,
        resolved_by_id=event.actor_id,
        resolution_mode=mode if mode in RESOLUTION_MODES else None,
        l1_capable=capable,
        resolved_at=event.occurred_at,
    )


def responds(event: Happening) -> bool:
    """Whether ``event`` answers the requester: the help desk's one definition of a response.

    A task a staff member completed, a staff member's public comment, a call
    an agent logged, or the recorded ``first_response`` itself.
    """
    if event.type == "first_response":
        return True
    if event.type == "task_completed":
        return event.actor_staff
    if event.type == "commented":
        return event.data.get("public") is True and event.actor_staff
    if event.type == "created":
        return event.data.get("channel") == "phone" and event.actor_staff
    return False


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------- database ---


def happenings(session: Session, work_item_id: int) -> list[Happening]:
    """The events of ``work_item_id`` that may change a fact, in the order they were appended."""
    query = (
        select(
            Event.id,
            Event.type,
            Event.data,
            Event.occurred_at,
            Event.actor_id,
            Team.slug,
            Team.tier,
        )
        .outerjoin(Team, Team.id == Event.team_id)
        .where(Event.work_item_id == work_item_id, Event.type.in_(FACT_EVENTS))
        .order_by(Event.id)
    )
    rows = session.execute(query).tuples().all()
    staff = staff_among(session, {row[4] for row in rows if row[4] is not None})
    return [
        Happening(
            id=id_,
            type=type_,
            data=data if isinstance(data, Mapping) else {},
            occurred_at=at,
            actor_id=actor,
            team=slug,
            team_tier=tier,
            actor_staff=actor in staff,
        )
        for id_, type_, data, at, actor, slug, tier in rows
    ]


def staff_among(session: Session, people: set[int]) -> set[int]:
    """Those of ``people`` (ids) who have a staff role."""
    if not people:
        return set()
    query = select(PersonRole.person_id).where(
        PersonRole.person_id.in_(people), PersonRole.role.in_(STAFF_ROLES)
    )
    return set(session.scalars(query))


def is_response(session: Session, event: Event) -> bool:
    """Whether the recorded ``event`` is a response (:func:`responds`)."""
    if event.type not in ("first_response", "task_completed", "commented", "created"):
        return False
    actor = event.actor_id
    happening = Happening(
        id=event.id,
        type=event.type,
        data=event.data if isinstance(event.data, Mapping) else {},
        occurred_at=event.occurred_at,
        actor_id=actor,
        actor_staff=actor is not None and actor in staff_among(session, {actor}),
    )
    return responds(happening)


def current_facts(session: Session, item: WorkItem) -> TicketFacts:
    """What the events of ``item`` say now, computed without writing anything."""
    return facts_from_events(item, happenings(session, item.id))


def rebuild(session: Session, work_item_id: int) -> Ticket | None:
    """Set ticket ``work_item_id``'s facts from its events (adding its row); ``None`` if no ticket.

    The row is locked first (``SELECT … FOR UPDATE``), so two transactions
    recording events of one ticket write one after the other, the second
    reading the events the first committed.
    """
    item = session.get(WorkItem, work_item_id)
    if item is None or item.kind != TICKET:
        return None
    ticket = ticket_row(session, work_item_id, lock=True)
    write(session, ticket, current_facts(session, item))
    return ticket


def write(session: Session, ticket: Ticket, facts: TicketFacts) -> None:
    """Copy ``facts`` onto ``ticket``, turning slugs into ids (unknown ones become ``None``)."""
    ticket.category_id = _id_of(session, Category, facts.category)
    ticket.impact = facts.impact
    ticket.urgency = facts.urgency
    ticket.first_contact = facts.first_contact
    ticket.resolving_tier = facts.resolving_tier
    ticket.resolving_team_id = _id_of(session, Team, facts.resolving_team)
    ticket.resolved_by_id = facts.resolved_by_id
    ticket.escalations = facts.escalations
    ticket.reopens = facts.reopens
    ticket.resolution_mode = facts.resolution_mode
    ticket.l1_capable = facts.l1_capable
    ticket.first_response_at = facts.first_response_at
    ticket.resolved_at = facts.resolved_at
    session.flush()


def on_event(event: Event, session: Session) -> None:
    """The subscriber: a ticket's event that may change a fact rebuilds its row."""
    if event.type not in FACT_EVENTS:
        return
    if event.type == "updated" and (event.data or {}).get("field") != "custom":
        return
    rebuild(session, event.work_item_id)


def _id_of(session: Session, model: type[Category] | type[Team], slug: str | None) -> int | None:
    if slug is None:
        return None
    return session.scalars(select(model.id).where(model.slug == slug)).one_or_none()
