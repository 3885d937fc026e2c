"""The SLA on a ticket's page, the help desk's timeline sentences, and sticky on-site facts.

Staff read the policy, each target's deadline and state, the clock (running,
paused, stopped) and the business time each team held the ticket; the
requester reads one plain line of what we aim for.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.model import Event, Team, WorkItem
from plugins.helpdesk import plugin as helpdesk
from plugins.helpdesk.facts import Happening, facts_from_events
from plugins.helpdesk.models import Calendar
from plugins.helpdesk.sla import clock_of
from plugins.helpdesk.sla_panel import duration, promise, staff_view
from plugins.helpdesk.views_ticket import describe_event
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday; the calendar works 08:00-17:00 UTC
STARTED = {
    "policy_id": None, "policy": "Standard", "calendar": "utc", "start": T0.isoformat(),
    "response_minutes": 60, "resolution_minutes": 480, "warn_percent": 75,
    "response_due": (T0 + timedelta(hours=1)).isoformat(),
    "resolution_due": (T0 + timedelta(hours=8)).isoformat(),
}  # fmt: skip


@pytest.fixture
def ticket(session: Session, make_person) -> WorkItem:
    session.add(Calendar(slug="utc", name="UTC office", timezone="UTC", workdays=[1, 2, 3, 4, 5],
                         day_start=time(8), day_end=time(17)))  # fmt: skip
    l1 = Team(slug="helpdesk-l1", name="Help desk", tier="L1")
    l2 = Team(slug="desktop-support", name="Desktop support", tier="L2")
    session.add_all([l1, l2])
    rita = make_person(name="Rita Requester", roles={"requester"})
    item = WorkItem(kind="ticket", type="incident", title="Dock dead", status="open",
                    reference="TIC-00001", requester_id=rita.id, created_at=T0)  # fmt: skip
    session.add(item)
    session.flush()
    return item


def add(session: Session, item: WorkItem, type: str, minutes: int, data: dict[str, Any]) -> None:
    session.add(Event(work_item_id=item.id, type=type, data=data,
                      occurred_at=T0 + timedelta(minutes=minutes)))  # fmt: skip
    session.flush()


def moved(item: WorkItem, session: Session, to: str, minutes: int, source: str | None) -> None:
    add(session, item, "team_changed", minutes, {"field": "current_team", "from": source, "to": to})


def test_staff_see_policy_targets_clock_and_time_per_team(session: Session, ticket) -> None:
    moved(ticket, session, "helpdesk-l1", 0, None)
    add(session, ticket, "sla_started", 0, STARTED)
    add(session, ticket, "first_response", 10, {})
    moved(ticket, session, "desktop-support", 30, "helpdesk-l1")
    add(session, ticket, "sla_paused", 90, {"reason": "requester"})

    view = staff_view(session, ticket, T0 + timedelta(hours=3))

    assert view is not None
    assert view.policy == "Standard (calendar utc)"
    assert view.clock == "Paused since 2026-03-02 10:30 UTC (waiting on the requester)"
    response, resolution = view.targets
    assert (response.label, response.size, response.due.text, response.state) == (
        "Response", "1 h business time", "2026-03-02 10:00 UTC", "Met 2026-03-02 09:10 UTC",
    )  # fmt: skip
    assert (resolution.state, resolution.warned, resolution.breached) == ("Paused", False, False)
    # the pause (10:30 - 12:00 now) moved the resolution deadline by 1 h 30 min
    assert resolution.due.text == "2026-03-02 18:30 UTC" or resolution.due.text.startswith(
        "2026-03-03 09:30"
    )
    assert [(row.team, row.used) for row in view.teams] == [
        ("Help desk", "30 min"), ("Desktop support", "1 h"),
    ]  # fmt: skip


def test_the_requester_reads_what_we_aim_for(session: Session, ticket) -> None:
    add(session, ticket, "sla_started", 0, STARTED)
    clock, _ = clock_of(session, ticket.id, T0 + timedelta(minutes=5))
    assert promise(clock) == (
        "We aim to respond by 2026-03-02 10:00 UTC and to resolve it by 2026-03-02 17:00 UTC."
    )
    add(session, ticket, "first_response", 10, {})
    clock, _ = clock_of(session, ticket.id, T0 + timedelta(minutes=20))
    assert promise(clock) == "We aim to resolve it by 2026-03-02 17:00 UTC."
    add(session, ticket, "sla_paused", 30, {"reason": "requester"})
    clock, _ = clock_of(session, ticket.id, T0 + timedelta(minutes=40))
    assert promise(clock) == "We are waiting for your answer; our clock is paused until you reply."
    add(session, ticket, "sla_stopped", 50, {})
    clock, _ = clock_of(session, ticket.id, T0 + timedelta(minutes=60))
    assert promise(clock) is None


def test_business_time_in_words() -> None:
    assert duration(0) == "0 min"
    assert duration(135) == "2 h 15 min"
    assert duration(120) == "2 h"


def _section(text: str, title: str) -> str:
    heading = r"<h2 id=\"[^\"]+\">" + re.escape(title) + r"</h2>(.*?)</section>"
    found = re.search(heading, text, re.S)
    assert found is not None, f"no {title} panel"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_ticket_page_shows_the_sla_and_describes_the_clock(
    make_app: MakeApp,  # noqa: F811 (the fixture imported above)
    session: Session,
    ticket,
    make_person,
) -> None:
    agent = make_person(name="Hannah Lee", roles={"manager"})
    moved(ticket, session, "helpdesk-l1", 0, None)
    add(session, ticket, "sla_started", 0, STARTED)
    add(session, ticket, "first_response", 10, {})
    add(session, ticket, "sla_met", 10, {"target": "response"})
    add(session, ticket, "resolved", 60, {"tier": "L1", "resolution_mode": None})
    add(session, ticket, "sla_stopped", 70, {})
    session.commit()
    rita, item_id = ticket.requester, ticket.id
    _ = (rita.email, agent.email)  # loaded, then let go: no read transaction left open
    session.expunge_all()
    session.rollback()
    with TestClient(make_app(("helpdesk", helpdesk))) as client:
        sign_in(client, agent)
        text = client.get(f"/items/{item_id}").text
        sla = _section(text, "Service level")
        sign_in(client, rita)
        theirs = client.get(f"/items/{item_id}").text

    assert "Policy Standard (calendar utc)" in sla
    assert "Clock Stopped 2026-03-02 10:10 UTC" in sla
    assert "Response 1 h business time 2026-03-02 10:00 UTC Met 2026-03-02 09:10 UTC No No" in sla
    assert "Resolution 8 h business time 2026-03-02 17:00 UTC Met 2026-03-02 10:00 UTC" in sla
    assert "Help desk: 1 h" in sla
    timeline = _section(text, "Timeline")
    assert (
        "SLA clock started: policy Standard, response due 2026-03-02 10:00 UTC, "
        "resolution due 2026-03-02 17:00 UTC" in timeline
    )
    assert "First response to the requester" in timeline
    assert "SLA response target met" in timeline
    assert "SLA clock stopped" in timeline
    assert "Sla started (" not in text
    assert "Service level" not in theirs, "the requester never sees the staff's clock"
    assert "Our aim" not in theirs, "a stopped clock promises nothing"


@pytest.mark.parametrize(
    ("type", "data", "words"),
    [
        ("sla_paused", {"reason": "vendor"}, "SLA clock paused while waiting on the vendor"),
        ("sla_resumed", {"response_due": "2026-03-02T10:00:00+00:00",
                         "resolution_due": "bad"},
         "SLA clock running again: response due 2026-03-02 10:00 UTC, resolution due ?"),
        ("sla_warning", {"target": "resolution"}, "SLA resolution target at risk (warning)"),
        ("sla_breached", {"target": "response"}, "SLA response target breached"),
        ("resolved", {"tier": "L2", "resolution_mode": "on_site"}, "Resolved at L2, on site"),
        ("reopened", {"by": "requester"}, "Reopened on the requester's reply"),
        ("closed", {"by": "auto"}, "Closed (no answer: closed by itself)"),
        ("prioritised", {"priority": 2, "impact": "medium", "urgency": "high"},
         "Priority 2 (impact medium, urgency high)"),
        ("rated", {"rating": 5}, None),
    ],
)  # fmt: skip
def test_the_help_desk_events_in_words(type: str, data: dict, words: str | None) -> None:
    assert describe_event(Event(type=type, data=data, occurred_at=T0)) == words


def test_an_on_site_dispatch_stays_after_a_reopen_and_an_l1_fix() -> None:
    item = WorkItem(kind="ticket", custom={})

    def happened(n: int, type: str, data: dict, tier: str | None = None) -> Happening:
        return Happening(n, type, data, T0 + timedelta(minutes=n), 7, None, tier)

    events = [
        happened(1, "resolved", {"tier": "L2", "resolution_mode": "on_site", "l1_capable": False}),
        happened(2, "reopened", {"by": "requester"}),
    ]
    assert facts_from_events(item, events).resolution_mode == "on_site"
    events.append(happened(3, "resolved", {"tier": "L1", "resolution_mode": None}))
    facts = facts_from_events(item, events)
    assert (facts.resolution_mode, facts.resolving_tier) == ("on_site", "L1")
    assert facts.l1_capable is True, "an L1 resolution: L1 could, by definition"
    remote = [happened(1, "resolved", {"tier": "L2", "resolution_mode": "remote"}),
              happened(2, "reopened", {})]  # fmt: skip
    assert facts_from_events(item, remote).resolution_mode is None
