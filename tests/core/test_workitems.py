"""Changing work items: once per key, every change an event, bad changes refused whole."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.model import Event
from engine.plugins import create_plugin_manager
from engine.workitems import WorkItemError, update_work_item


@pytest.fixture
def pm():
    return create_plugin_manager(entry_points=False)


def test_changes_are_events_and_a_retry_changes_nothing(
    session: Session, pm, make_work_item, make_team, make_person
) -> None:
    l2 = make_team(slug="desktop-support")
    agent = make_person(email="Mei.Chen@example.org")
    item = make_work_item(status="new", priority=3)
    changes = {
        "status": "in_progress",
        "current_team": "desktop-support",
        "assignee": "MEI.CHEN@example.org",
        "priority": 2,
        "custom": {"asset": "LT-042"},
    }
    events = update_work_item(session, pm, item.id, changes, key="wf-1/escalate/1")
    assert sorted(e.type for e in events) == [
        "assigned",
        "priority_changed",
        "status_changed",
        "team_changed",
        "updated",
    ]
    assert (item.status, item.current_team_id, item.assignee_id) == ("in_progress", l2.id, agent.id)
    status = next(e for e in events if e.type == "status_changed")
    assert status.data == {"field": "status", "from": "new", "to": "in_progress"}

    item.status = "changed meanwhile"
    again = update_work_item(session, pm, item.id, changes, key="wf-1/escalate/1")
    assert sorted(e.id for e in again) == sorted(e.id for e in events)
    assert item.status == "changed meanwhile"
    assert len(session.scalars(select(Event).filter_by(work_item_id=item.id)).all()) == 5


def test_owner_team_changes_apart_from_the_current_team(
    session: Session, pm, make_work_item, make_team
) -> None:
    l1 = make_team(slug="helpdesk-l1")
    l2 = make_team(slug="desktop-support")
    item = make_work_item(status="new")
    changes = {"owner_team": "helpdesk-l1", "current_team": "helpdesk-l1"}
    update_work_item(session, pm, item.id, changes, key="wf-2/intake/1")
    events = update_work_item(session, pm, item.id, {"current_team": l2.slug}, key="wf-2/esc/1")
    assert (item.owner_team_id, item.current_team_id) == (l1.id, l2.id)
    assert [(e.type, e.data) for e in events] == [
        ("team_changed", {"field": "current_team", "from": "helpdesk-l1", "to": "desktop-support"})
    ]


def test_unchanged_values_record_nothing(session: Session, pm, make_work_item) -> None:
    item = make_work_item(status="new")
    assert update_work_item(session, pm, item.id, {"status": "new"}, key="k") == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, "cannot change colour of a work item"),
        ({"current_team": "no-such-team"}, "there is no team 'no-such-team'"),
        ({"assignee": "ghost@example.org"}, "no person with the e-mail address 'ghost@"),
        ({"priority": 9}, "priority must be 1 (most urgent) to 4, got 9"),
        ({"due_at": "2026-12-01T09:00"}, "due_at needs a time zone"),
        ({"custom": "asset"}, "custom must be a mapping"),
    ],
)
def test_bad_changes_are_refused(
    session: Session, pm, make_work_item, changes: dict, message: str
) -> None:
    item = make_work_item(status="new")
    with pytest.raises(WorkItemError, match=message.replace("(", r"\(").replace(")", r"\)")):
        update_work_item(session, pm, item.id, {"status": "open", **changes}, key="k")
    session.refresh(item)
    assert item.status == "new"
    assert update_work_item(session, pm, item.id, {"closed": True}, key="k2")[0].type == (
        "status_changed"
    )
    assert item.closed_at is not None


def test_missing_work_item(session: Session, pm) -> None:
    with pytest.raises(WorkItemError, match="work item 999999 does not exist"):
        update_work_item(session, pm, 999999, {"status": "x"}, key="k")
