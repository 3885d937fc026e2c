"""The owner team hears of every change another team makes to its ticket, once, and of no other.

Events are recorded as the workflow's actions and the pages record them
(``record_event``, ``update_work_item``) with the help desk plugin subscribed,
on SQLite and PostgreSQL; a notice is a ``notified`` event addressed to
``owner_team`` (what ``engine.notify`` records), which a mail plugin sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.events import record_event
from engine.model import Event, Person, Team, WorkItem
from engine.plugins import PluginManager, create_plugin_manager
from engine.workitems import update_work_item
from plugins.helpdesk import plugin as helpdesk
from plugins.helpdesk.ownership import notice_key
from tests.helpdesk.test_facts import three_tiers


@dataclass
class Desk:
    pm: PluginManager
    l1: Team  # the owner
    l2: Team
    l3: Team
    ann: Person  # L1 agent (owner team)
    dan: Person  # L2 agent
    nina: Person  # L3 agent
    rita: Person  # requester
    item: WorkItem


@pytest.fixture
def desk(session: Session, make_person, make_team) -> Desk:
    names = ("ann", "dan", "nina", "rita")
    teams, people = three_tiers(session, make_person, make_team, names)
    item = WorkItem(
        kind="ticket", type="incident", title="VPN drops", status="open", reference="INC-7",
        requester_id=people["rita"].id, owner_team_id=teams["l1"].id,
        current_team_id=teams["l1"].id,
    )  # fmt: skip
    session.add(item)
    session.commit()
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", helpdesk)])
    return Desk(pm, **teams, **people, item=item)


def record(desk: Desk, session: Session, type: str, data: dict[str, Any], *, actor=None, team=None):
    return record_event(
        session, desk.pm, work_item_id=desk.item.id, type=type, data=data,
        actor_id=actor.id if actor else None, team_id=team.id if team else None,
    )  # fmt: skip


def move(source: Team, target: Team, reason: str = "") -> dict[str, Any]:
    return {"from_team": source.slug, "to_team": target.slug, "from_tier": source.tier,
            "to_tier": target.tier, "reason": reason}  # fmt: skip


def notices(session: Session, desk: Desk) -> list[Event]:
    query = select(Event).filter_by(work_item_id=desk.item.id, type="notified").order_by(Event.id)
    return list(session.scalars(query))


def test_the_owners_own_changes_tell_nobody(session: Session, desk: Desk) -> None:
    record(desk, session, "escalated", move(desk.l1, desk.l2, "printer"), actor=desk.ann)
    update_work_item(
        session, desk.pm, desk.item.id, {"status": "escalated", "current_team": desk.l2.slug},
        key="wf/escalate/1",
    )  # fmt: skip
    record(desk, session, "commented", {"public": True}, actor=desk.ann)
    record(desk, session, "commented", {"public": True}, actor=desk.rita)  # a requester
    record(desk, session, "resolved", {"team": desk.l1.slug, "tier": "L1"}, actor=desk.ann)
    record(desk, session, "status_changed", {"field": "status", "from": "a", "to": "b"},
           actor=desk.ann, team=desk.l2)  # fmt: skip
    session.commit()
    assert notices(session, desk) == []


def test_another_tiers_escalation_is_told_once_with_its_reason(
    session: Session, desk: Desk
) -> None:
    escalated = record(
        desk, session, "escalated", move(desk.l2, desk.l3, "the <b>VPN</b> concentrator"),
        actor=desk.dan, team=desk.l2,
    )  # fmt: skip
    update_work_item(  # its twin: the same move, made by the action beside it
        session, desk.pm, desk.item.id, {"current_team": desk.l3.slug}, key="wf/escalate/2"
    )
    session.commit()

    [notice] = notices(session, desk)
    assert notice.idempotency_key == notice_key(escalated.id)
    assert notice.team_id == desk.l1.id
    assert notice.data["to"] == ["owner_team"]
    assert notice.data["subject"] == (
        "[INC-7] Escalated from Desktop support (L2) to Network experts (L3)"
    )
    assert "by Dan (L2)" in notice.data["body"]
    assert "Reason: the <b>VPN</b> concentrator" in notice.data["body"]
    assert f"/items/{desk.item.id}" in notice.data["body"]
    assert set(notice.data) == {"to", "subject", "body"}


def test_every_kind_of_change_by_another_team(session: Session, desk: Desk) -> None:
    expected = []
    # actor-less moves and changes: the team where they happened decides
    update_work_item(
        session, desk.pm, desk.item.id, {"current_team": desk.l2.slug}, key="wf/route/1"
    )  # the owner sent it on: nothing
    update_work_item(session, desk.pm, desk.item.id, {"status": "waiting"}, key="wf/wait/1")
    expected.append("[INC-7] Status changed from open to waiting")
    update_work_item(
        session, desk.pm, desk.item.id, {"status": "in_progress", "current_team": desk.l3.slug},
        key="wf/move/1",
    )  # fmt: skip
    expected.append("[INC-7] Moved from Desktop support (L2) to Network experts (L3)")
    record(desk, session, "commented", {"public": False}, actor=desk.nina)
    expected.append("[INC-7] Internal comment added")
    record(desk, session, "commented", {"public": True}, actor=desk.dan)
    expected.append("[INC-7] Public comment added")
    record(desk, session, "resolved", {"team": desk.l3.slug, "tier": "L3"}, actor=desk.nina)
    expected.append("[INC-7] Resolved by Network experts (L3)")
    record(desk, session, "de_escalated", move(desk.l3, desk.l1))
    expected.append("[INC-7] De-escalated from Network experts (L3) to Help desk (L1)")
    session.commit()

    assert [n.data["subject"] for n in notices(session, desk)] == expected


def test_notices_are_recorded_once_and_never_about_notices(session: Session, desk: Desk) -> None:
    comment = record(desk, session, "commented", {"public": False}, actor=desk.dan)
    desk.pm.call("tierflow_event_recorded", event=comment, session=session, pm=desk.pm)
    [notice] = notices(session, desk)
    desk.pm.call("tierflow_event_recorded", event=notice, session=session, pm=desk.pm)
    record(desk, session, "notified", {"to": ["owner_team"], "subject": "s", "body": "b"},
           actor=desk.dan, team=desk.l2)  # fmt: skip
    session.commit()
    assert len(notices(session, desk)) == 2  # the notice and the one recorded by hand


def test_items_that_are_not_tickets_are_left_alone(session: Session, desk: Desk) -> None:
    desk.item.kind = "project"
    session.commit()
    record(desk, session, "escalated", move(desk.l2, desk.l3), actor=desk.dan)
    record(desk, session, "commented", {"public": False}, actor=desk.nina)
    session.commit()
    assert notices(session, desk) == []


def test_a_ticket_without_an_owner_team_tells_nobody(session: Session, desk: Desk) -> None:
    desk.item.owner_team_id = None
    session.commit()
    record(desk, session, "escalated", move(desk.l2, desk.l3), actor=desk.dan)
    session.commit()
    assert notices(session, desk) == []
