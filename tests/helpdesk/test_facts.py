"""A ticket's facts follow its events as they happen, and rebuilding them from the events agrees.

Events are recorded through ``engine.events.record_event`` with the help desk
plugin subscribed, as the workflow's actions and the web pages record them,
on SQLite and PostgreSQL; the ``Ticket`` row is what the reports read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine.db import make_session_factory
from engine.events import record_event
from engine.model import Event, Membership, Person, Team, WorkItem
from engine.plugins import PluginManager, create_plugin_manager
from engine.workitems import update_work_item
from plugins.helpdesk import plugin as helpdesk
from plugins.helpdesk.facts import Happening, TicketFacts, facts_from_events, rebuild
from plugins.helpdesk.models import Category, Ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Desk:
    pm: PluginManager
    l1: Team
    l2: Team
    l3: Team
    hannah: Person  # L1 agent
    diego: Person  # L2 agent
    ingrid: Person  # L3 agent
    alice: Person  # requester
    hardware: Category


def three_tiers(
    session: Session, make_person, make_team, names: tuple[str, str, str, str]
) -> tuple[dict[str, Team], dict[str, Person]]:
    """Help desk (L1), desktop support (L2), network experts (L3), an agent in each, a requester.

    ``names`` are the agents' (L1, L2, L3) and the requester's first names.
    """
    teams = {
        "l1": make_team(slug="helpdesk-l1", name="Help desk (L1)", tier="L1"),
        "l2": make_team(slug="desktop-support", name="Desktop support (L2)", tier="L2"),
        "l3": make_team(slug="network-l3", name="Network experts (L3)", tier="L3"),
    }
    people = {}
    for name, tier in zip(names, ("l1", "l2", "l3", None), strict=True):
        role = "agent" if tier else "requester"
        title = f"{name.title()} ({tier.upper() if tier else 'requester'})"
        people[name] = make_person(name=title, roles={role})
        if tier:
            session.add(Membership(team_id=teams[tier].id, person_id=people[name].id))
    return teams, people


@pytest.fixture
def desk(session: Session, make_person, make_team) -> Desk:
    names = ("hannah", "diego", "ingrid", "alice")
    teams, people = three_tiers(session, make_person, make_team, names)
    hardware = Category(slug="hardware", name="Hardware")
    session.add(hardware)
    session.commit()
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", helpdesk)])
    return Desk(pm, **teams, **people, hardware=hardware)


Record = Callable[..., Event]


def opened(session: Session, desk: Desk, custom: dict[str, Any] | None = None) -> WorkItem:
    """A new ticket, owned and held by the help desk, with its ``created`` event."""
    item = WorkItem(
        kind="ticket", type="incident", title="Printer jams", status="open",
        requester_id=desk.alice.id, owner_team_id=desk.l1.id, current_team_id=desk.l1.id,
        custom=custom or {},
    )  # fmt: skip
    session.add(item)
    session.flush()
    record_event(session, desk.pm, work_item_id=item.id, type="created", at=T0)
    return item


def recorder(session: Session, desk: Desk, item: WorkItem) -> Record:
    """``record(type, data, actor=None, team=None)``: one event, a minute after the last."""
    minutes = iter(range(1, 10_000))

    def record(type: str, data: dict[str, Any] | None = None, actor=None, team=None) -> Event:
        return record_event(
            session, desk.pm, work_item_id=item.id, type=type, data=data or {},
            actor_id=actor.id if actor else None, team_id=team.id if team else None,
            at=T0 + timedelta(minutes=next(minutes)),
        )  # fmt: skip

    return record


def escalation(source: Team, target: Team, reason: str = "needs hands on") -> dict[str, Any]:
    return {"from_team": source.slug, "to_team": target.slug, "from_tier": source.tier,
            "to_tier": target.tier, "reason": reason}  # fmt: skip


def resolution(team: Team, mode=None, l1_capable=None, first_contact=True) -> dict[str, Any]:
    return {"team": team.slug, "tier": team.tier, "resolution_mode": mode,
            "l1_capable": l1_capable, "first_contact": first_contact}  # fmt: skip


def row(session: Session, item: WorkItem) -> Ticket:
    session.expire_all()
    ticket = session.get(Ticket, item.id)
    assert ticket is not None, "the ticket has no facts row"
    return ticket


# ------------------------------------------------------ realistic sequences ---


def test_resolved_by_l1_at_first_contact(session: Session, desk: Desk) -> None:
    item = opened(session, desk, {"category": "hardware", "impact": "high", "urgency": "low"})
    record = recorder(session, desk, item)
    record("task_opened", {"task": 1, "step": "triage", "team": "helpdesk-l1"}, team=desk.l1)
    answered = record("commented", {"public": True}, actor=desk.hannah)
    done = record("resolved", resolution(desk.l1, "remote"), actor=desk.hannah, team=desk.l1)
    record("closed", {"by": "auto"})
    session.commit()

    ticket = row(session, item)
    assert ticket.first_contact is True
    assert (ticket.resolving_tier, ticket.resolving_team_id) == ("L1", desk.l1.id)
    assert ticket.resolved_by_id == desk.hannah.id
    assert ticket.resolution_mode == "remote"
    assert (ticket.escalations, ticket.reopens) == (0, 0)
    assert ticket.first_response_at == answered.occurred_at
    assert ticket.resolved_at == done.occurred_at
    assert (ticket.category_id, ticket.impact, ticket.urgency) == (desk.hardware.id, "high", "low")


def test_escalated_then_resolved_on_site_by_l2_who_says_l1_could_have(
    session: Session, desk: Desk
) -> None:
    item = opened(session, desk)
    record = recorder(session, desk, item)
    triaged = record("task_completed", {"task": 1, "step": "triage", "outcome": "escalate"},
                     actor=desk.hannah, team=desk.l1)  # fmt: skip
    record("escalated", escalation(desk.l1, desk.l2), actor=desk.hannah, team=desk.l1)
    record("team_changed", {"field": "current_team", "from": desk.l1.slug, "to": desk.l2.slug})
    record("task_completed", {"task": 2, "step": "fix"}, actor=desk.diego, team=desk.l2)
    fixed = record(
        "resolved", resolution(desk.l2, "on_site", l1_capable=True, first_contact=False),
        actor=desk.diego, team=desk.l2,
    )  # fmt: skip
    session.commit()

    ticket = row(session, item)
    assert ticket.first_contact is False
    assert (ticket.resolving_tier, ticket.resolving_team_id) == ("L2", desk.l2.id)
    assert (ticket.resolved_by_id, ticket.resolution_mode) == (desk.diego.id, "on_site")
    assert ticket.l1_capable is True
    assert ticket.escalations == 1
    assert ticket.first_response_at == triaged.occurred_at  # the L1 task, not the L2 one
    assert ticket.resolved_at == fixed.occurred_at


def test_reopened_clears_the_resolution_and_first_contact(session: Session, desk: Desk) -> None:
    item = opened(session, desk)
    record = recorder(session, desk, item)
    record("resolved", resolution(desk.l1, "remote"), actor=desk.hannah, team=desk.l1)
    session.commit()
    assert row(session, item).first_contact is True

    record("reopened", {"times": 1, "by": "requester"}, actor=desk.alice)
    session.commit()
    ticket = row(session, item)
    assert (ticket.reopens, ticket.first_contact) == (1, False)
    assert ticket.resolved_at is ticket.resolving_tier is ticket.resolved_by_id is None
    assert ticket.resolution_mode is ticket.l1_capable is ticket.resolving_team_id is None

    again = record("resolved", resolution(desk.l1, "remote"), actor=desk.hannah, team=desk.l1)
    session.commit()
    ticket = row(session, item)
    assert ticket.first_contact is False, "a reopened ticket was not resolved at first contact"
    assert (ticket.resolving_tier, ticket.resolved_at) == ("L1", again.occurred_at)


def test_de_escalated_then_resolved_by_l1_is_not_first_contact(
    session: Session, desk: Desk
) -> None:
    item = opened(session, desk)
    record = recorder(session, desk, item)
    record("escalated", escalation(desk.l1, desk.l2), actor=desk.hannah)
    record("de_escalated", escalation(desk.l2, desk.l1, "a password reset"), actor=desk.diego)
    record("resolved", resolution(desk.l1, "remote"), actor=desk.hannah, team=desk.l1)
    session.commit()

    ticket = row(session, item)
    assert ticket.first_contact is False
    assert (ticket.resolving_tier, ticket.escalations) == ("L1", 1)


def test_l1_resolver_saying_it_was_not_first_contact_counts(session: Session, desk: Desk) -> None:
    item = opened(session, desk)
    record = recorder(session, desk, item)
    record("resolved", resolution(desk.l1, first_contact=False), actor=desk.hannah, team=desk.l1)
    session.commit()
    assert row(session, item).first_contact is False


def test_first_response_is_the_first_staff_reaction(session: Session, desk: Desk) -> None:
    item = opened(session, desk)
    record = recorder(session, desk, item)
    record("commented", {"public": True}, actor=desk.alice)  # the requester: no response
    record("commented", {"public": False}, actor=desk.hannah)  # internal: not to the requester
    record("task_completed", {"task": 3, "step": "fix"}, actor=None, team=desk.l1)  # nobody's
    session.commit()
    assert row(session, item).first_response_at is None

    first = record("task_completed", {"task": 4, "step": "fix"}, actor=desk.diego, team=desk.l2)
    record("commented", {"public": True}, actor=desk.hannah)
    session.commit()
    assert row(session, item).first_response_at == first.occurred_at
    recorded = session.scalars(
        select(Event).filter_by(work_item_id=item.id, type="first_response")
    ).all()
    assert [(e.occurred_at, e.actor_id) for e in recorded] == [(first.occurred_at, desk.diego.id)]


def test_classification_follows_the_custom_fields(session: Session, desk: Desk) -> None:
    item = opened(session, desk, {"category": "no-such-category", "impact": "enormous"})
    session.commit()
    ticket = row(session, item)
    assert (ticket.category_id, ticket.impact, ticket.urgency) == (None, None, None)

    changes = {"custom": {"category": "hardware", "impact": "medium", "urgency": "high"}}
    update_work_item(session, desk.pm, item.id, changes, key="triage/1")
    session.commit()
    ticket = row(session, item)
    classified = (ticket.category_id, ticket.impact, ticket.urgency)
    assert classified == (desk.hardware.id, "medium", "high")


def test_an_event_heard_twice_changes_nothing_twice(session: Session, desk: Desk) -> None:
    item = opened(session, desk)
    record = recorder(session, desk, item)
    escalated = record_event(
        session, desk.pm, work_item_id=item.id, type="escalated", key="wf/escalate/1",
        data=escalation(desk.l1, desk.l2),
    )  # fmt: skip
    record_event(
        session, desk.pm, work_item_id=item.id, type="escalated", key="wf/escalate/1",
        data=escalation(desk.l1, desk.l2),
    )  # fmt: skip
    desk.pm.call("tierflow_event_recorded", event=escalated, session=session, pm=desk.pm)
    record("reopened", {"times": 1, "by": "owner"})
    session.commit()
    assert (row(session, item).escalations, row(session, item).reopens) == (1, 1)


def test_other_work_items_get_no_facts(session: Session, desk: Desk) -> None:
    item = WorkItem(kind="project", type="rollout", title="Laptops", status="open")
    session.add(item)
    session.flush()
    record_event(session, desk.pm, work_item_id=item.id, type="created")
    record_event(session, desk.pm, work_item_id=item.id, type="escalated", data={})
    session.commit()
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_rebuild_repairs_a_row_edited_by_hand(session: Session, desk: Desk) -> None:
    item = opened(session, desk)
    record = recorder(session, desk, item)
    record("escalated", escalation(desk.l1, desk.l2), actor=desk.hannah)
    record("resolved", resolution(desk.l2, "on_site", True, False), actor=desk.diego)
    session.commit()
    live = facts_of(row(session, item))
    ticket = row(session, item)
    ticket.escalations, ticket.first_contact, ticket.resolving_tier = 7, True, "L3"
    session.commit()

    rebuild(session, item.id)
    session.commit()
    assert facts_of(row(session, item)) == live
    assert rebuild(session, 10**9) is None


def test_keeping_the_facts_of_a_long_ticket_stays_quick(session: Session, desk: Desk) -> None:
    """Each fact event re-reads the ticket's events: measure it on a ticket with 400 of them."""
    item = opened(session, desk)
    record = recorder(session, desk, item)
    for n in range(200):
        record("commented", {"public": False}, actor=desk.hannah)
        record("task_opened", {"task": n, "step": "fix"})
    session.commit()
    started = time.perf_counter()
    for _ in range(20):
        record("escalated", escalation(desk.l1, desk.l2))
    per_event = (time.perf_counter() - started) / 20
    session.commit()
    assert row(session, item).escalations == 20
    print(f"facts kept in {per_event * 1000:.1f} ms per event on a 400-event ticket")
    assert per_event < 0.25, f"{per_event * 1000:.1f} ms per event"


# ----------------------------------------------------- rebuild = live facts ---

TEAMS = ("l1", "l2", "l3")
PEOPLE = ("hannah", "diego", "ingrid", "alice", None)

operations = st.one_of(
    st.tuples(st.just("escalated"), st.sampled_from(TEAMS), st.sampled_from(TEAMS)),
    st.tuples(st.just("de_escalated"), st.sampled_from(TEAMS), st.sampled_from(TEAMS)),
    st.tuples(
        st.just("resolved"),
        st.sampled_from(TEAMS),
        st.sampled_from(PEOPLE),
        st.sampled_from(["remote", "on_site", None]),
        st.sampled_from([True, False, None]),
        st.booleans(),
    ),
    st.tuples(st.just("reopened"), st.sampled_from(["requester", "owner"])),
    st.tuples(st.just("first_response")),
    st.tuples(st.just("task_completed"), st.sampled_from(TEAMS)),
    st.tuples(st.just("commented"), st.sampled_from(PEOPLE), st.booleans()),
    st.tuples(st.just("closed")),
    st.tuples(st.just("status_changed")),
    st.tuples(
        st.just("custom"),
        st.sampled_from(["hardware", "nothing"]),
        st.sampled_from(["high", "medium", "low", "huge"]),
    ),
)


def apply(record: Record, desk: Desk, op: tuple) -> Event:
    kind, *args = op
    team = {name: getattr(desk, name) for name in TEAMS}
    person = {name: getattr(desk, name) if name else None for name in PEOPLE}
    if kind in ("escalated", "de_escalated"):
        return record(kind, escalation(team[args[0]], team[args[1]]), team=team[args[0]])
    if kind == "resolved":
        where, who, mode, capable, flag = args
        data = resolution(team[where], mode, capable, flag)
        return record(kind, data, actor=person[who], team=team[where])
    if kind == "reopened":
        return record(kind, {"times": 1, "by": args[0]})
    if kind == "task_completed":
        return record(kind, {"task": 1, "step": "x"}, actor=desk.hannah, team=team[args[0]])
    if kind == "commented":
        return record(kind, {"public": args[1]}, actor=person[args[0]])
    if kind == "custom":
        return record("updated", {"field": "custom", "from": {}, "to": {}})
    return record(kind, {"minutes": 3} if kind == "first_response" else {})


def facts_of(ticket: Ticket) -> tuple:
    return (
        ticket.category_id, ticket.impact, ticket.urgency, ticket.first_contact,
        ticket.resolving_tier, ticket.resolving_team_id, ticket.resolved_by_id,
        ticket.escalations, ticket.reopens, ticket.resolution_mode, ticket.l1_capable,
        ticket.first_response_at, ticket.resolved_at,
    )  # fmt: skip


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, max_size=14))
def test_rebuilding_from_the_events_gives_the_live_facts(
    db_engine: Engine, desk: Desk, ops: list[tuple]
) -> None:
    sessions = make_session_factory(db_engine)
    custom = {"category": "hardware", "impact": "low"}
    with sessions() as session:  # each event in a transaction of its own, as actions do
        item = opened(session, desk, custom)
        session.commit()
        record = recorder(session, desk, item)
        recorded = []
        for op in ops:
            if op[0] == "custom":
                custom = {"category": op[1], "impact": op[2]}
                item.custom = custom
            event = apply(record, desk, op)
            recorded.append(Seen(event.type, dict(event.data), event.occurred_at,
                                 event.team_id, event.actor_id))  # fmt: skip
            session.commit()
        live = facts_of(row(session, item))

    with sessions() as session:
        ticket = session.get(Ticket, item.id)
        assert ticket is not None
        ticket.escalations, ticket.reopens, ticket.first_contact = 99, 99, None
        session.commit()
        rebuild(session, item.id)
        session.commit()
        assert facts_of(row(session, item)) == live

    expected_facts(live, recorded, desk, custom)


@dataclass(frozen=True)
class Seen:
    """A recorded event's values, kept after its session ends."""

    type: str
    data: dict[str, Any]
    occurred_at: datetime
    team_id: int | None
    actor_id: int | None


def expected_facts(live: tuple, events: list[Seen], desk: Desk, custom: dict) -> None:
    """What the facts must be, worked out another way than the fold (an oracle)."""
    (category, impact, _urgency, first_contact, tier, team_id, resolver, escalations, reopens,
     mode, capable, first_response, resolved_at) = live  # fmt: skip
    types = [e.type for e in events]
    assert escalations == types.count("escalated")
    assert reopens == types.count("reopened")
    assert category == (desk.hardware.id if custom["category"] == "hardware" else None)
    assert impact == (custom["impact"] if custom["impact"] != "huge" else None)
    last_reopen = max((i for i, t in enumerate(types) if t == "reopened"), default=-1)
    last_resolved = max((i for i, t in enumerate(types) if t == "resolved"), default=-1)
    dispatched = any(
        e.type == "resolved" and e.data["resolution_mode"] == "on_site" for e in events
    )
    if last_resolved > last_reopen:
        final = events[last_resolved]
        assert resolved_at == final.occurred_at
        assert (tier, team_id, resolver) == (final.data["tier"], final.team_id, final.actor_id)
        said = final.data["l1_capable"]
        assert capable == (said if said is not None else (True if tier == "L1" else None))
        assert mode == ("on_site" if dispatched else final.data["resolution_mode"])
    else:
        assert resolved_at is tier is team_id is resolver is capable is None
        assert mode == ("on_site" if dispatched else None)
    resolutions = [e for e in events if e.type == "resolved"]
    if {"escalated", "de_escalated", "reopened"} & set(types):
        assert first_contact is False
    elif not resolutions:
        assert first_contact is None
    else:
        by_l1 = all(e.data["tier"] == "L1" and e.data["first_contact"] for e in resolutions)
        assert first_contact is by_l1
    staff = {desk.hannah.id, desk.diego.id, desk.ingrid.id}
    responses = [
        e.occurred_at
        for e in events
        if e.type == "first_response"
        or (e.type == "task_completed" and e.actor_id in staff)
        or (e.type == "commented" and e.data["public"] and e.actor_id in staff)
    ]
    assert first_response == min(responses, default=None)


# -------------------------------------------------------------- pure fold ---


def test_the_fold_is_pure_and_reads_only_the_custom_fields() -> None:
    item = WorkItem(kind="ticket", custom={"category": "network", "urgency": "high"})
    at = T0
    events = [
        Happening(1, "created", {}, at),
        Happening(2, "resolved", {"tier": "l1", "resolution_mode": "phone"}, at, 5, "hd", "L1"),
    ]
    facts = facts_from_events(item, events)
    assert facts == TicketFacts(
        category="network", urgency="high", first_contact=True, resolving_tier="L1",
        resolving_team="hd", resolved_by_id=5, resolved_at=at, l1_capable=True,
    )  # fmt: skip
    assert facts_from_events(WorkItem(kind="ticket", custom=None), []) == TicketFacts()
