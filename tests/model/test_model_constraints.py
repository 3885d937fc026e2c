"""The database itself refuses bad rows and cleans up after deletions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.model import (
    Comment,
    Event,
    Membership,
    Person,
    PersonRole,
    Task,
    Team,
    TimeEntry,
    WorkItem,
)
from plugins.helpdesk.models import Category

Rows = Callable[[Session, dict[str, Callable[..., Any]]], list[Any]]


def _item(**overrides: Any) -> WorkItem:
    defaults = {"kind": "ticket", "type": "incident", "title": "t", "status": "new"}
    return WorkItem(**defaults | overrides)


def _task(item: WorkItem, **overrides: Any) -> Task:
    return Task(**{"work_item_id": item.id, "workflow_id": "wf-1", "step_id": "triage"} | overrides)


def _entry(person: Person, item: WorkItem, minutes: int) -> TimeEntry:
    return TimeEntry(
        person_id=person.id,
        work_item_id=item.id,
        work_date=date(2025, 1, 6),
        minutes=minutes,
        activity="ticket",
    )


# Each case builds rows (with the factories, which flush) and returns the rows
# to add, the last of which the database must refuse. Rows refer to flushed
# rows by id, so that nothing reaches the session before the test adds it.
REFUSED: dict[str, Rows] = {
    "person email is unique whatever its case": lambda s, f: [
        f["person"](email="ann@example.org"),
        Person(email="ANN@example.org", name="Ann again"),
    ],
    "person level is L1, L2 or L3": lambda s, f: [Person(email="x@y.org", name="X", level="L4")],
    "role is a known one": lambda s, f: [PersonRole(person_id=f["person"]().id, role="wizard")],
    "membership role is member or lead": lambda s, f: [
        Membership(team_id=f["team"]().id, person_id=f["person"]().id, role="owner")
    ],
    "team slug is unique": lambda s, f: [f["team"](slug="ops"), Team(slug="ops", name="Ops 2")],
    "work item priority is 1 to 4": lambda s, f: [_item(priority=5)],
    "work item reference is unique": lambda s, f: [
        f["item"](reference="INC-1"),
        _item(reference="INC-1"),
    ],
    "one work item per workflow run": lambda s, f: [
        f["item"](workflow_id="wf-1"),
        _item(workflow_id="wf-1"),
    ],
    "task idempotency key": lambda s, f: [_task(item := f["item"]()), _task(item)],
    "task status is open, completed or cancelled": lambda s, f: [_task(f["item"](), status="done")],
    "event idempotency key": lambda s, f: [
        Event(work_item_id=(item := f["item"]()).id, type="escalated", idempotency_key="wf/esc"),
        Event(work_item_id=item.id, type="escalated", idempotency_key="wf/esc"),
    ],
    "time entry of no minutes": lambda s, f: [_entry(f["person"](), f["item"](), 0)],
    "time entry over a day": lambda s, f: [_entry(f["person"](), f["item"](), 1441)],
    "work item needs a kind": lambda s, f: [_item(kind=None)],
}


@pytest.mark.parametrize("build", REFUSED.values(), ids=REFUSED.keys())
def test_the_database_refuses(
    session: Session,
    make_person: Callable[..., Person],
    make_team: Callable[..., Team],
    make_work_item: Callable[..., WorkItem],
    build: Rows,
) -> None:
    factories = {"person": make_person, "team": make_team, "item": make_work_item}
    *accepted, refused = build(session, factories)
    session.add_all(accepted)
    session.flush()

    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(refused)

    session.commit()  # what came before the refused row is intact


def test_keys_that_may_repeat(
    session: Session, make_person: Callable[..., Person], make_work_item: Callable[..., WorkItem]
) -> None:
    item, person = make_work_item(), make_person()
    session.add_all(
        [
            _task(item, occurrence=1),
            _task(item, occurrence=2),  # the same step visited again
            _task(item, step_id="approve"),
            Event(work_item_id=item.id, type="comment"),  # events without a key
            Event(work_item_id=item.id, type="comment"),
            _item(),  # no reference, no workflow
            _item(),
            _entry(person, item, 1440),
            _entry(person, item, 1),
        ]
    )
    session.commit()
    session.expire_all()

    assert len(item.tasks) == 3


def test_deleting_a_work_item_deletes_its_trail_and_subitems(
    session: Session, make_person: Callable[..., Person], make_work_item: Callable[..., WorkItem]
) -> None:
    project = make_work_item(kind="project")
    task_item = make_work_item(kind="task", parent=project)
    author = make_person()
    for item in (project, task_item):
        session.add_all(
            [
                _task(item, workflow_id=f"wf-{item.id}"),
                Event(work_item=item, type="created"),
                Comment(work_item=item, body="hello", author=author),
            ]
        )
    other = make_work_item()
    session.add(Event(work_item=other, type="created"))
    session.commit()

    session.execute(delete(WorkItem).where(WorkItem.id == project.id))
    session.commit()

    assert session.scalars(select(WorkItem.id)).all() == [other.id]
    for model in (Task, Comment):
        assert session.scalar(select(func.count()).select_from(model)) == 0
    assert session.scalars(select(Event.work_item_id)).all() == [other.id]
    assert session.scalar(select(func.count()).select_from(Person)) == 1  # the author stays


def test_deleting_through_the_orm_cascades_too(
    session: Session, make_work_item: Callable[..., WorkItem]
) -> None:
    item = make_work_item()
    session.add_all([Event(work_item=item, type="created"), _task(item)])
    session.commit()
    session.expunge_all()

    session.delete(session.get(WorkItem, item.id))
    session.commit()

    assert session.scalar(select(func.count()).select_from(Event)) == 0
    assert session.scalar(select(func.count()).select_from(Task)) == 0


def test_time_entries_keep_their_work_item(
    session: Session, make_person: Callable[..., Person], make_work_item: Callable[..., WorkItem]
) -> None:
    item = make_work_item()
    session.add(_entry(make_person(), item, 30))
    session.commit()

    with pytest.raises(IntegrityError):
        session.execute(delete(WorkItem).where(WorkItem.id == item.id))
    session.rollback()

    assert session.get(WorkItem, item.id) is not None


def test_deleting_people_and_teams(
    session: Session, make_person: Callable[..., Person], make_team: Callable[..., Team]
) -> None:
    person, team = make_person(roles={"agent", "admin"}), make_team()
    session.add(Membership(team=team, person=person))
    category = Category(slug="network", name="Network", default_team=team)
    session.add(category)
    session.commit()

    session.execute(delete(Team).where(Team.id == team.id))
    session.execute(delete(Person).where(Person.id == person.id))
    session.commit()
    session.expunge_all()

    assert session.scalar(select(func.count()).select_from(Membership)) == 0
    assert session.scalar(select(func.count()).select_from(PersonRole)) == 0
    assert session.get(Category, category.id).default_team_id is None


EXPECTED_INDEXES = {
    "work_item": {
        "ix_work_item_kind_status",
        "ix_work_item_current_team_id_status",
        "ix_work_item_assignee_id_status",
        "ix_work_item_owner_team_id_status",
        "ix_work_item_requester_id",
        "ix_work_item_parent_id",
    },
    "task": {
        "ix_task_team_id_status_due_at",
        "ix_task_assignee_id_status_due_at",
        "ix_task_work_item_id",
    },
    "event": {"ix_event_work_item_id_occurred_at", "ix_event_type_occurred_at"},
    "comment": {"ix_comment_work_item_id_created_at"},
    "time_entry": {"ix_time_entry_person_id_work_date", "ix_time_entry_work_item_id_work_date"},
    "team_membership": {"ix_team_membership_person_id"},
    "helpdesk_category": {"ix_helpdesk_category_parent_id"},
}

EXPECTED_UNIQUES = {
    "person": {"uq_person_email"},
    "team": {"uq_team_slug"},
    "work_item": {"uq_work_item_reference", "uq_work_item_workflow_id"},
    "task": {"uq_task_workflow_id_step_id_occurrence"},
    "event": {"uq_event_idempotency_key"},
    "workflow_definition": {"uq_workflow_definition_name_content_hash"},
    "helpdesk_category": {"uq_helpdesk_category_slug"},
}


def test_indexes_and_unique_constraints_exist_with_stable_names(db_engine: Engine) -> None:
    inspector = inspect(db_engine)

    for table, expected in EXPECTED_INDEXES.items():
        assert expected <= {ix["name"] for ix in inspector.get_indexes(table)}, table
    for table, expected in EXPECTED_UNIQUES.items():
        assert expected <= {uq["name"] for uq in inspector.get_unique_constraints(table)}, table
    foreign_keys = {fk["name"] for fk in inspector.get_foreign_keys("work_item")}
    assert "fk_work_item_owner_team_id_team" in foreign_keys
    assert inspector.get_pk_constraint("person_role")["name"] == "pk_person_role"
    assert "ck_time_entry_minutes_in_a_day" in {
        ck["name"] for ck in inspector.get_check_constraints("time_entry")
    }
