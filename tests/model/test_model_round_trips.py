"""Every model survives a trip to the database and back, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TypeVar

import pytest
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import InvalidRequestError, StatementError
from sqlalchemy.orm import Session

from engine.db import make_session_factory
from engine.model import (
    Base,
    Comment,
    Event,
    Membership,
    Person,
    Task,
    Team,
    TimeEntry,
    WorkflowDefinition,
    WorkItem,
)
from plugins.helpdesk.models import Category

PARIS = timezone(timedelta(hours=2))
M = TypeVar("M", bound=Base)


def reload(session: Session, row: M) -> M:
    """Commit, forget everything, and read ``row`` back from the database."""
    session.commit()
    model, key = type(row), inspect(row).identity
    session.expunge_all()
    fresh = session.get(model, key)
    assert fresh is not None
    return fresh


def test_person_with_roles_and_teams(session: Session, make_team: Callable[..., Team]) -> None:
    team = make_team(slug="helpdesk-l1", tier="L1")
    person = Person(email="  Hannah.Lee@Example.ORG ", name="Hannah Lee", level="L1")
    person.grant("agent", "manager", "agent")
    person.memberships.append(Membership(team=team, role="lead"))
    session.add(person)

    person = reload(session, person)

    assert person.email == "hannah.lee@example.org"
    assert person.role_names == {"agent", "manager"}
    assert person.has_role("manager")
    assert not person.has_role("admin")
    assert [(m.team.slug, m.role) for m in person.memberships] == [("helpdesk-l1", "lead")]
    assert person.memberships[0].joined_at.tzinfo is UTC
    assert person.cost_rate == Decimal("0.00")
    assert person.weekly_capacity_minutes == 2400
    assert person.timezone == "UTC"
    assert person.active
    assert not person.is_staff
    assert person.password_hash is None


def test_timestamps_are_set_and_updated(session: Session, make_team: Callable[..., Team]) -> None:
    team = make_team(created_at=datetime(2024, 1, 1, tzinfo=UTC))
    created, first_update = team.created_at, team.updated_at
    session.commit()

    team.name = "Renamed"
    team = reload(session, team)

    assert team.created_at == created
    assert team.updated_at > first_update
    assert team.updated_at.tzinfo is UTC


def test_work_item_with_everything(
    session: Session,
    make_person: Callable[..., Person],
    make_team: Callable[..., Team],
) -> None:
    requester, agent = make_person(), make_person(is_staff=True, level="L2")
    helpdesk, desktop = make_team(tier="L1"), make_team(tier="L2")
    definition = WorkflowDefinition(
        name="incident", version="3", content_hash="a" * 64, source="steps: []\n", kind="ticket"
    )
    project = WorkItem(kind="project", type="rollout", title="Laptop refresh", status="active")
    custom = {"asset": "LT-042", "tags": ["vip", "hardware"], "impact": {"users": 3, "ok": True}}
    item = WorkItem(
        kind="ticket",
        type="incident",
        reference="INC-000042",
        title="Screen flickers",
        description="Since this morning",
        status="in_progress",
        priority=2,
        requester=requester,
        owner_team=helpdesk,
        current_team=desktop,
        assignee=agent,
        parent=project,
        custom=custom,
        channel="portal",
        workflow_id="incident-42",
        definition=definition,
        due_at=datetime(2025, 3, 1, 18, 30, tzinfo=PARIS),
    )
    session.add(item)

    item = reload(session, item)

    assert (item.requester.id, item.assignee.id) == (requester.id, agent.id)
    assert (item.owner_team.id, item.current_team.id) == (helpdesk.id, desktop.id)
    assert item.parent.title == "Laptop refresh"
    assert item.parent.children == [item]
    assert item.definition.content_hash == "a" * 64
    assert item.custom == custom
    assert item.due_at == datetime(2025, 3, 1, 16, 30, tzinfo=UTC)
    assert item.closed_at is None
    assert (item.reference, item.priority, item.channel) == ("INC-000042", 2, "portal")


def test_custom_fields_record_changes_in_place(
    session: Session, make_work_item: Callable[..., WorkItem]
) -> None:
    item = make_work_item()
    assert item.custom == {}
    session.commit()

    item.custom["asset"] = "LT-042"
    item = reload(session, item)

    assert item.custom == {"asset": "LT-042"}


def test_task_event_comment_and_time_entry(
    session: Session,
    make_person: Callable[..., Person],
    make_team: Callable[..., Team],
    make_work_item: Callable[..., WorkItem],
) -> None:
    agent, team, item = make_person(cost_rate=Decimal("45.50")), make_team(), make_work_item()
    done = datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
    session.add_all(
        [
            Task(
                work_item=item,
                workflow_id="incident-1",
                step_id="triage",
                title="Triage",
                form="l1_triage",
                team=team,
                assignee=agent,
                status="completed",
                outcome="resolved",
                data={"resolution": "rebooted"},
                completed_at=done,
                completed_by=agent,
            ),
            Event(work_item=item, type="created", actor=agent, team=team, data={"via": "portal"}),
            Event(work_item=item, type="resolved", idempotency_key="incident-1/triage/1"),
            Comment(work_item=item, author=agent, body="Rebooted it.", public=True),
            TimeEntry(
                person=agent,
                work_item=item,
                work_date=date(2025, 1, 2),
                minutes=90,
                activity="ticket",
                rate=agent.cost_rate,
            ),
        ]
    )

    item = reload(session, item)

    [task] = item.tasks
    assert (task.step_id, task.occurrence, task.status, task.outcome) == (
        "triage",
        1,
        "completed",
        "resolved",
    )
    assert (task.team.id, task.assignee.id, task.completed_by_id) == (team.id, agent.id, agent.id)
    assert task.data == {"resolution": "rebooted"}
    assert task.completed_at == done
    assert [e.type for e in item.events] == ["created", "resolved"]
    assert item.events[0].data == {"via": "portal"}
    assert item.events[0].occurred_at.tzinfo is UTC
    assert item.events[1].idempotency_key == "incident-1/triage/1"
    [comment] = item.comments
    assert (comment.author.id, comment.body, comment.public) == (agent.id, "Rebooted it.", True)
    [entry] = item.time_entries
    assert (entry.work_date, entry.minutes, entry.rate) == (date(2025, 1, 2), 90, Decimal("45.50"))
    assert entry.cost == Decimal("68.25")
    assert entry.note == ""


def test_workflow_definition(session: Session) -> None:
    definition = WorkflowDefinition(
        name="incident",
        version="2025-01",
        content_hash="f" * 64,
        source="name: incident\nsteps: []\n",
        path="workflows/helpdesk/incident.yaml",
        kind="ticket",
        deployed_at=datetime(2025, 1, 1, tzinfo=UTC),
        active=True,
    )
    session.add(definition)

    definition = reload(session, definition)

    assert definition.source == "name: incident\nsteps: []\n"
    assert definition.deployed_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert definition.active


def test_helpdesk_category_tree(session: Session, make_team: Callable[..., Team]) -> None:
    desktop = make_team(slug="desktop-support")
    hardware = Category(slug="hardware", name="Hardware", default_team=desktop)
    hardware.children.extend(
        [Category(slug="printers", name="Printers"), Category(slug="laptops", name="Laptops")]
    )
    session.add(hardware)

    hardware = reload(session, hardware)

    assert hardware.default_team.slug == "desktop-support"
    assert [c.slug for c in hardware.children] == ["laptops", "printers"]
    assert hardware.children[0].parent is hardware
    assert hardware.active


# ---------------------------------------------------------------- datetimes ---


@pytest.mark.parametrize(
    "given",
    [
        datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
        datetime(2025, 6, 1, 14, 0, tzinfo=PARIS),
        datetime(2025, 6, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5))),
    ],
    ids=["utc", "plus-2", "minus-5"],
)
def test_datetimes_come_back_aware_in_utc(
    session: Session, make_work_item: Callable[..., WorkItem], given: datetime
) -> None:
    item = reload(session, make_work_item(due_at=given))

    assert item.due_at == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert item.due_at.tzinfo is UTC
    assert item.created_at.tzinfo is UTC


def test_datetimes_compare_as_instants_in_queries(
    session: Session, make_work_item: Callable[..., WorkItem]
) -> None:
    early = make_work_item(title="early", due_at=datetime(2025, 6, 1, 13, 0, tzinfo=PARIS))
    late = make_work_item(title="late", due_at=datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    session.commit()

    ordered = session.scalars(select(WorkItem.title).order_by(WorkItem.due_at)).all()
    overdue = session.scalars(
        select(WorkItem.title).where(WorkItem.due_at < datetime(2025, 6, 1, 13, 30, tzinfo=PARIS))
    ).all()

    assert ordered == [early.title, late.title]
    assert overdue == ["early"]


def test_naive_datetimes_are_refused(
    session: Session, make_work_item: Callable[..., WorkItem]
) -> None:
    with pytest.raises(StatementError, match="naive datetime 2025-06-01T12:00:00") as caught:
        make_work_item(due_at=datetime(2025, 6, 1, 12, 0))

    assert isinstance(caught.value.orig, ValueError)


def test_events_are_append_only(session: Session, make_work_item: Callable[..., WorkItem]) -> None:
    event = Event(work_item=make_work_item(), type="created")
    session.add(event)
    session.commit()

    event.type = "edited"
    with pytest.raises(InvalidRequestError, match="append-only"):
        session.flush()


def test_factories_accept_overrides_and_another_session(
    session: Session,
    db_engine: Engine,
    make_person: Callable[..., Person],
) -> None:
    person = make_person(email="x@example.org", roles={"admin"})
    session.commit()
    with make_session_factory(db_engine)() as other:
        second = make_person(other, name="In another session")
        other.commit()

    assert person.role_names == {"admin"}
    assert session.scalar(select(Person.name).where(Person.id == second.id)) == "In another session"
