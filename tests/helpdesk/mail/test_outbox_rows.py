"""Which updates give a requester's mail: one outbox row per update, written with its event."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.model import Event
from plugins.helpdesk.mail.models import OutboxMail
from tests.helpdesk.mail.conftest import Desk


def kinds(desk: Desk, item_id: int) -> list[tuple[str, str]]:
    return [(row.kind, row.state) for row in desk.outbox(work_item_id=item_id)]


def test_each_requester_facing_update_gets_one_row(desk: Desk) -> None:
    alice = desk.person("alice@example.org", "Alice Moreau")
    agent = desk.person("agent@example.org", "Diego Santos", is_staff=True)
    item = desk.ticket(alice)
    desk.status(item, "new", "open")  # the run starting: part of the creation, no mail
    desk.comment(item, agent, "Have you tried turning it off and on?")
    desk.comment(item, agent, "Internal: looks like the fuser", public=False)
    desk.comment(item, alice, "Yes, twice.")  # the requester's own words come back to nobody
    desk.status(item, "open", "resolved")
    desk.status(item, "resolved", "open")
    desk.status(item, "open", "closed")
    desk.notify(item, "[x] For the team", "not for the requester", to=("owner_team",))
    assert kinds(desk, item) == [
        ("created", "queued"),
        ("comment", "queued"),
        ("resolved", "merged"),  # status mails still waiting: only the latest goes out
        ("status", "merged"),
        ("status", "queued"),
    ]
    comment = desk.outbox(kind="comment")[0]
    assert comment.context["comment"] == {
        "body": "Have you tried turning it off and on?",
        "author": "Diego Santos",
    }
    assert (comment.to_address, comment.to_name) == ("alice@example.org", "Alice Moreau")
    assert comment.message_key.startswith(f"tierflow.{item}.")
    resolved, reopened, closed = desk.outbox(kind="resolved") + desk.outbox(kind="status")
    assert (resolved.merged_into_id, reopened.merged_into_id) == (reopened.id, closed.id)
    assert "replaced by mail" in resolved.note
    assert [row.context["status"] for row in (reopened, closed)] == [
        {"from": "resolved", "to": "open"},
        {"from": "open", "to": "closed"},
    ]


def test_a_workflow_notice_joins_the_mail_still_waiting_instead_of_a_second_mail(
    desk: Desk,
) -> None:
    alice = desk.person("alice@example.org")
    item = desk.ticket(alice)
    desk.notify(item, "[INC] We received your request", "Hello, we will answer within a day.")
    desk.status(item, "new", "open")
    desk.notify(item, "[INC] We need more information", "Which printer?")
    rows = desk.outbox(work_item_id=item)
    assert [(r.kind, r.state) for r in rows] == [
        ("created", "queued"),
        ("notice", "merged"),
        ("notice", "queued"),
    ]
    created, merged, question = rows
    assert created.context["notice"] == {
        "subject": "[INC] We received your request",
        "body": "Hello, we will answer within a day.",
    }
    assert merged.merged_into_id == created.id
    assert question.context["notice"]["body"] == "Which printer?"


def test_a_call_resolved_and_closed_at_once_tells_the_requester_once(desk: Desk) -> None:
    alice = desk.person("alice@example.org")
    item = desk.ticket(alice, channel="phone")
    desk.status(item, "new", "open")
    desk.status(item, "open", "resolved")
    desk.status(item, "resolved", "closed")
    desk.notify(item, "[INC] Resolved during your call", "We reset your password.")
    assert kinds(desk, item) == [
        ("created", "queued"),
        ("resolved", "merged"),
        ("status", "queued"),
        ("notice", "merged"),
    ]
    closed = desk.outbox(kind="status")[0]
    assert closed.context["notice"]["body"] == "We reset your password."


def test_a_notice_never_joins_a_mail_a_worker_has_touched(desk: Desk) -> None:
    alice = desk.person("alice@example.org")
    item = desk.ticket(alice)
    with desk.sessions.begin() as session:
        row = session.scalars(select(OutboxMail)).one()
        row.attempts = 1  # a worker tried it already: its words are fixed
    desk.notify(item, "[INC] We received your request", "Hello")
    assert kinds(desk, item) == [("created", "queued"), ("notice", "queued")]


def test_nobody_to_write_to_is_no_row_or_a_visible_skip(desk: Desk) -> None:
    nobody = desk.ticket(None)
    gone = desk.person("gone@example.org", active=False)
    item = desk.ticket(gone)
    assert kinds(desk, nobody) == []
    [row] = desk.outbox(work_item_id=item)
    assert (row.state, row.note) == (
        "skipped",
        "gone@example.org is deactivated: nothing is sent to them",
    )


def test_projects_and_other_kinds_are_not_the_help_desks_to_mail(desk: Desk) -> None:
    alice = desk.person("alice@example.org")
    item = desk.ticket(alice, kind="project")
    assert kinds(desk, item) == []


def test_one_row_per_event_even_if_written_twice(desk: Desk) -> None:
    alice = desk.person("alice@example.org")
    desk.ticket(alice)
    with desk.sessions.begin() as session:
        event = session.scalars(select(Event).filter_by(type="created")).one()
        row = session.scalars(select(OutboxMail)).one()
        twin = OutboxMail(
            work_item_id=row.work_item_id, event_id=event.id, kind="created",
            message_key="tierflow.x.twin", context={},
        )  # fmt: skip
        session.add(twin)
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
