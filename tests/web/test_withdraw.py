"""'Withdraw my request': the requester cancels their own request before it is resolved."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.db import make_read_session_factory
from engine.model import Event, WorkItem
from tests.web.conftest import sign_in
from tests.web.test_item_signals import Case, case  # noqa: F401 (the fixture open_case uses)


@pytest.fixture
def open_case(case: Case, session: Session) -> Case:  # noqa: F811 (uses the fixture)
    """Rita's request, open now and run by no workflow; owned by Ann's help desk."""
    item = session.get(WorkItem, case.item.id)
    item.status, item.workflow_id = "open", None
    session.commit()
    return case


def now(client: TestClient, item: WorkItem) -> tuple[str, bool, list[Event]]:
    """The item's status, whether it is closed, and its ``cancelled`` events."""
    with make_read_session_factory(client.app.state.db)() as db:
        row = db.get(WorkItem, item.id)
        query = select(Event).filter_by(work_item_id=item.id, type="cancelled")
        return row.status, row.closed_at is not None, list(db.scalars(query))


def withdraw(client: TestClient, item: WorkItem, token: str, **fields: str):
    return client.post(f"/items/{item.id}/withdraw", data={"csrf_token": token, **fields})


def test_the_requester_withdraws_with_a_reason(client: TestClient, open_case: Case) -> None:
    token = sign_in(client, open_case.rita)
    page = client.get(f"/items/{open_case.item.id}").text
    assert '<h2 id="withdraw-heading">Withdraw my request</h2>' in page
    assert f'action="/items/{open_case.item.id}/withdraw"' in page
    assert "Cancel work item" not in page  # the staff's cancel is not hers
    reply = withdraw(client, open_case.item, token, confirm="yes", reason="It works again")
    assert reply.status_code == 303
    assert reply.headers["location"] == f"/items/{open_case.item.id}?done=withdrawn"
    status, closed, events = now(client, open_case.item)
    assert (status, closed) == ("cancelled", True)
    assert [(e.actor_id, e.data) for e in events] == [
        (open_case.rita.id, {"reason": "It works again", "status": "open", "withdrawn": True})
    ]
    shown = client.get(reply.headers["location"]).text
    assert "Your request is withdrawn" in shown
    assert "Cancelled by Rita Requester — reason: It works again" in shown
    assert "withdraw-heading" not in shown  # over: nothing left to withdraw


def test_the_reason_is_optional_the_confirmation_is_not(
    client: TestClient, open_case: Case
) -> None:
    token = sign_in(client, open_case.rita)
    unconfirmed = withdraw(client, open_case.item, token, reason="kept <typed>")
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm that your request is withdrawn." in unconfirmed.text
    assert "kept &lt;typed&gt;" in unconfirmed.text
    assert now(client, open_case.item)[:2] == ("open", False)
    assert withdraw(client, open_case.item, token, confirm="yes").status_code == 303
    assert now(client, open_case.item)[2][0].data["reason"] == ""


@pytest.mark.parametrize("status", ["resolved", "closed", "cancelled"])
def test_not_once_it_is_resolved(
    client: TestClient, open_case: Case, session: Session, status: str
) -> None:
    session.get(WorkItem, open_case.item.id).status = status
    session.commit()
    token = sign_in(client, open_case.rita)
    assert "withdraw-heading" not in client.get(f"/items/{open_case.item.id}").text
    reply = withdraw(client, open_case.item, token, confirm="yes")
    assert reply.status_code == 409
    assert f"INC-00007 is already {status}, so it can no longer be withdrawn" in reply.text
    assert now(client, open_case.item)[2] == []


def test_only_the_requester_may_withdraw(client: TestClient, open_case: Case) -> None:
    token = sign_in(client, open_case.ann)  # the owner team may cancel, but not withdraw for her
    assert "withdraw-heading" not in client.get(f"/items/{open_case.item.id}").text
    refused = withdraw(client, open_case.item, token, confirm="yes")
    assert refused.status_code == 403
    assert "Only the person who asked for INC-00007 (Rita Requester) may withdraw it" in (
        refused.text
    )
    token = sign_in(client, open_case.otto)  # someone else's request: as if it did not exist
    assert withdraw(client, open_case.item, token, confirm="yes").status_code == 404
    assert now(client, open_case.item)[:2] == ("open", False)


def test_temporal_down_changes_nothing(
    client: TestClient, open_case: Case, session: Session
) -> None:
    session.get(WorkItem, open_case.item.id).workflow_id = "incident/INC-00007"
    session.commit()
    token = sign_in(client, open_case.rita)
    reply = withdraw(client, open_case.item, token, confirm="yes", reason="keep me")
    assert reply.status_code == 503
    assert "was not withdrawn" in reply.text
    assert "keep me" in reply.text
    assert now(client, open_case.item) == ("open", False, [])
