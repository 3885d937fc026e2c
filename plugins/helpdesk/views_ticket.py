"""The help desk's panels on a ticket's page: its tier path and its facts, for staff only.

The tier path is every hand-off in order (``escalated``, ``de_escalated`` and
``team_changed`` events; the ``team_changed`` twin of an escalation is one
hand-off, not two): which team and tier, when, by whom, why. The facts are the
ticket's :class:`~plugins.helpdesk.models.Ticket` row (what the reports read),
or, for a ticket that has none yet, what its events say. Everything is
computed here; the templates only loop and print. Requesters see neither;
they, and staff, see the SLA panel of :mod:`plugins.helpdesk.sla_panel`.
:func:`describe_event` gives the timeline's sentences for the help desk's
own events (``tierflow_describe_event``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.comments import is_staff
from engine.contrib import ItemSection
from engine.model import Event, Person, Team, WorkItem
from engine.web.access import Viewer
from engine.web.timeline import Moment, moment
from plugins.helpdesk.facts import TICKET, TicketFacts, current_facts
from plugins.helpdesk.models import Category, Ticket
from plugins.helpdesk.sla_panel import sla_sections

HANDOFF_EVENTS = ("team_changed", "escalated", "de_escalated")
HOW = {"team_changed": "Moved to", "escalated": "Escalated to", "de_escalated": "De-escalated to"}
MODES = {"remote": "Remotely", "on_site": "On site"}


@dataclass(frozen=True)
class Stop:
    """One team on the ticket's way: how it got there, when, by whom and why."""

    team: str
    label: str
    how: str
    at: Moment | None
    by: str | None
    reason: str | None


@dataclass(frozen=True)
class FactRow:
    """One line of the facts list: a label, and a moment or a text."""

    label: str
    text: str
    at: Moment | None = None


@dataclass(frozen=True)
class TeamInfo:
    name: str
    tier: str | None


def sections(item: WorkItem, viewer: Viewer, session: Session) -> list[ItemSection]:
    """The SLA of ticket ``item``; its tier path and facts too if ``viewer`` is staff."""
    if item.kind != TICKET:
        return []
    staff = is_staff(viewer.roles)
    sla = sla_sections(item, staff, session, datetime.now(UTC))
    if not staff:
        return sla
    stops = tier_path(session, item)
    return [
        *sla,
        ItemSection(
            "Tier path",
            "helpdesk/ticket_tier_path.html",
            {"stops": stops, "summary": " → ".join(stop.label for stop in stops)},
            order=10,
        ),
        ItemSection(
            "Ticket facts",
            "helpdesk/ticket_facts.html",
            {"rows": fact_rows(session, item)},
            order=11,
        ),
    ]


# --------------------------------------------------------------- tier path ---


@dataclass(frozen=True)
class HandOff:
    """A hand-off event as plain values."""

    type: str
    data: Mapping[str, Any]
    at: datetime
    by: str | None


def tier_path(session: Session, item: WorkItem) -> list[Stop]:
    """Each team the ticket went to, in order, starting with the first."""
    query = (
        select(Event)
        .where(Event.work_item_id == item.id, Event.type.in_(HANDOFF_EVENTS))
        .options(selectinload(Event.actor))
        .order_by(Event.occurred_at, Event.id)
    )
    events = [
        HandOff(e.type, e.data if isinstance(e.data, Mapping) else {}, e.occurred_at,
                e.actor.name if e.actor else None)
        for e in session.scalars(query)
    ]  # fmt: skip
    start = item.owner_team.slug if item.owner_team else None
    slugs = {s for e in events for s in _move(e)} | {start}
    teams = {
        slug: TeamInfo(name, tier)
        for slug, name, tier in session.execute(
            select(Team.slug, Team.name, Team.tier).where(Team.slug.in_(slugs - {None}))
        ).tuples()
    }
    created = item.created_at
    return stops(events, teams, start, created)


def stops(
    events: Iterable[HandOff],
    teams: Mapping[str, TeamInfo],
    start: str | None,
    created: datetime | None,
) -> list[Stop]:
    """The stops of a ticket's way from its hand-offs (pure).

    ``start`` is where the ticket began when no event says (its owner team).
    A hand-off to the team that already holds the ticket is the twin of the
    previous one (an escalation recorded beside its ``team_changed``): it adds
    the escalation's kind and reason to that stop instead of a second stop.
    """
    path: list[Stop] = []
    for event in events:
        source, target = _move(event)
        if target is None:
            continue
        reason = event.data.get("reason")
        reason = reason.strip() if isinstance(reason, str) and reason.strip() else None
        tiers = (event.data.get("from_tier"), event.data.get("to_tier"))
        if not path:
            first = source or (target if event.type == "team_changed" else start)
            if first is None:  # an escalation from nowhere: the way starts where it went
                first = target
            at = created if source else event.at
            by = None if source else event.by
            path.append(_stop(teams, first, tiers[0], how="Started at", at=at, by=by))
            if first == target:
                continue
        last = path[-1]
        if target == last.team:
            if event.type != "team_changed" and last.how == HOW["team_changed"]:
                how = HOW[event.type]
                path[-1] = replace(last, how=how, reason=reason, by=last.by or event.by)
            continue
        path.append(
            _stop(teams, target, tiers[1], how=HOW[event.type], at=event.at, by=event.by,
                  reason=reason)
        )  # fmt: skip
    if not path and start is not None:
        path.append(_stop(teams, start, None, how="Started at", at=created))
    return path


def _stop(
    teams: Mapping[str, TeamInfo],
    slug: str,
    tier: object,
    *,
    how: str,
    at: datetime | None,
    by: str | None = None,
    reason: str | None = None,
) -> Stop:
    info = teams.get(slug, TeamInfo(slug, None))
    tier_text = tier if isinstance(tier, str) and tier else info.tier
    label = info.name
    if tier_text and f"({tier_text})" not in label:
        label = f"{label} ({tier_text})"
    return Stop(slug, label, how, moment(at) if at else None, by, reason)


def _move(event: HandOff) -> tuple[str | None, str | None]:
    data = event.data
    if event.type == "team_changed":
        return _slug(data.get("from")), _slug(data.get("to"))
    return _slug(data.get("from_team")), _slug(data.get("to_team") or data.get("to"))


def _slug(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# ------------------------------------------------------------------- facts ---


def fact_rows(session: Session, item: WorkItem) -> list[FactRow]:
    """The ticket's facts as label and value, in words."""
    row = session.get(Ticket, item.id)
    if row is not None:
        facts, team_id = _row_facts(row), row.resolving_team_id
        category = row.category.name if row.category else None
    else:
        facts = current_facts(session, item)
        team_id = _team_id(session, facts.resolving_team)
        category = _category_name(session, facts.category)
    team = session.get(Team, team_id) if team_id is not None else None
    resolver = session.get(Person, facts.resolved_by_id) if facts.resolved_by_id else None
    resolved = facts.resolved_at is not None
    tier = facts.resolving_tier or "unknown tier"
    return [
        FactRow("Category", category or "Not categorised yet"),
        FactRow("Resolved at first contact", _yes_no(facts.first_contact, "Not resolved yet")),
        FactRow("Escalations", str(facts.escalations)),
        FactRow("Reopened", _times(facts.reopens)),
        FactRow(
            "Resolving tier",
            f"{tier}{f', {team.name}' if team else ''}" if resolved else "Not resolved yet",
        ),
        FactRow("Resolved by", resolver.name if resolver else "—"),
        _when("Resolved", facts.resolved_at, "Not resolved yet"),
        FactRow("Worked", MODES.get(facts.resolution_mode or "", "Not recorded")),
        FactRow("Level 1 could have resolved it", _yes_no(facts.l1_capable, "Not recorded")),
        _when("First response", facts.first_response_at, "No response yet"),
    ]


def _row_facts(row: Ticket) -> TicketFacts:
    return TicketFacts(
        first_contact=row.first_contact,
        resolving_tier=row.resolving_tier,
        resolved_by_id=row.resolved_by_id,
        escalations=row.escalations,
        reopens=row.reopens,
        resolution_mode=row.resolution_mode,
        l1_capable=row.l1_capable,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
    )


def _category_name(session: Session, slug: str | None) -> str | None:
    if slug is None:
        return None
    return session.scalars(select(Category.name).filter_by(slug=slug)).first() or slug


def _team_id(session: Session, slug: str | None) -> int | None:
    return session.scalars(select(Team.id).filter_by(slug=slug)).first() if slug else None


def _yes_no(value: bool | None, unknown: str) -> str:
    return unknown if value is None else ("Yes" if value else "No")


def _times(count: int) -> str:
    return "Never" if count == 0 else ("Once" if count == 1 else f"{count} times")


def _when(label: str, at: datetime | None, missing: str) -> FactRow:
    return FactRow(label, missing, moment(at) if at else None)


# ------------------------------------------------------------ the timeline ---

TARGET_WORDS = {"response": "response", "resolution": "resolution"}


def _target(data: Mapping[str, Any]) -> str:
    return TARGET_WORDS.get(str(data.get("target")), str(data.get("target") or "?"))


def _due(data: Mapping[str, Any], name: str) -> str:
    value = data.get(f"{name}_due")
    try:
        return moment(datetime.fromisoformat(str(value))).text
    except ValueError:
        return "?"


def _started(data: Mapping[str, Any]) -> str:
    return (
        f"SLA clock started: policy {data.get('policy') or '?'}, response due "
        f"{_due(data, 'response')}, resolution due {_due(data, 'resolution')}"
    )


def _resumed(data: Mapping[str, Any]) -> str:
    return (
        f"SLA clock running again: response due {_due(data, 'response')}, "
        f"resolution due {_due(data, 'resolution')}"
    )


def _paused(data: Mapping[str, Any]) -> str:
    reason = data.get("reason")
    return "SLA clock paused" + (f" while waiting on the {reason}" if reason else "")


def _resolved(data: Mapping[str, Any]) -> str:
    where = data.get("tier") or data.get("team") or "?"
    mode = {"on_site": ", on site", "remote": ", remotely"}.get(str(data.get("resolution_mode")))
    first = " at first contact" if data.get("first_contact") else ""
    return f"Resolved at {where}{mode or ''}{first}"


def _reopened(data: Mapping[str, Any]) -> str:
    by = {"requester": " on the requester's reply", "owner": " by the help desk"}
    return "Reopened" + by.get(str(data.get("by")), "")


def _closed(data: Mapping[str, Any]) -> str:
    how = {"auto": " (no answer: closed by itself)", "owner": ""}
    return "Closed" + how.get(str(data.get("by")), "")


DESCRIBED = {
    "sla_started": _started,
    "sla_paused": _paused,
    "sla_resumed": _resumed,
    "sla_warning": lambda d: f"SLA {_target(d)} target at risk (warning)",
    "sla_breached": lambda d: f"SLA {_target(d)} target breached",
    "sla_met": lambda d: f"SLA {_target(d)} target met",
    "sla_stopped": lambda d: "SLA clock stopped",
    "first_response": lambda d: "First response to the requester",
    "prioritised": lambda d: (
        f"Priority {d.get('priority', '?')} "
        f"(impact {d.get('impact', '?')}, urgency {d.get('urgency', '?')})"
    ),
    "resolved": _resolved,
    "reopened": _reopened,
    "closed": _closed,
}


def describe_event(event: Event) -> str | None:
    """The timeline's sentence for a help desk event (``tierflow_describe_event``); else None."""
    write = DESCRIBED.get(event.type)
    if write is None:
        return None
    data = event.data if isinstance(event.data, Mapping) else {}
    return write(data)
