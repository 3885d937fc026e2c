"""The outbox admin pages: the list (filter, pages), a mail's page, "retry now"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.model import Person
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.mail.models import OutboxMail
from tests.helpdesk.mail.conftest import Desk
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)


@pytest.fixture
def admin(make_app: MakeApp, make_person, session) -> Iterator[TestClient]:  # noqa: F811
    app: Starlette = make_app(("helpdesk", helpdesk_plugin))
    person: Person = make_person(email="root@example.org", roles={"admin"})
    session.commit()
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.headers["X-CSRF-Token"] = sign_in(client, person)
        yield client


def test_the_list_filters_by_state_and_pages_by_keyset(admin: TestClient, desk: Desk) -> None:
    alice = desk.person("alice@example.org")
    for n in range(55):
        desk.ticket(alice, title=f"Request {n}")
    with desk.sessions.begin() as session:
        first = session.scalars(select(OutboxMail.id).order_by(OutboxMail.id).limit(3)).all()
        session.execute(  # ids go on where earlier tests left them (PostgreSQL sequences)
            update(OutboxMail)
            .where(OutboxMail.id.in_(first))
            .values(state="failed", last_error="the server answered 550 no such user")
        )
    page = admin.get("/helpdesk/admin/mail")
    assert page.status_code == 200
    assert "Sending is off" in page.text
    assert 'href="/helpdesk/admin/mail"' in page.text  # the admin's navigation entry
    assert page.text.count("· created</a>") == 50
    assert "All (55)" in page.text
    assert "failed (3)" in page.text
    older = admin.get(f"/helpdesk/admin/mail?before={first[0] + 5}")
    assert older.text.count("· created</a>") == 5
    assert "Older mails" not in older.text
    failed = admin.get("/helpdesk/admin/mail?state=failed")
    assert failed.text.count("· created</a>") == 3
    assert "550 no such user" in failed.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=lost", "state: &#39;lost&#39; is not a state"),
        ("before=abc", "before: &#39;abc&#39; is not a mail number"),
        ("before=99999999999", "is not a mail number"),
    ],
)
def test_bad_filters_are_named(admin: TestClient, query: str, message: str) -> None:
    reply = admin.get(f"/helpdesk/admin/mail?{query}")
    assert reply.status_code == 400
    assert message in reply.text


def test_a_mail_page_and_retry_now(admin: TestClient, desk: Desk) -> None:
    item = desk.ticket(desk.person("alice@example.org"), title="Printer jams")
    [row] = desk.outbox()
    with desk.sessions.begin() as session:
        session.execute(
            update(OutboxMail).values(state="failed", attempts=8, last_error="ConnectionRefused")
        )
    page = admin.get(f"/helpdesk/admin/mail/{row.id}")
    assert page.status_code == 200
    assert f"INC-{item:05d}: Printer jams" in page.text
    assert "ConnectionRefused" in page.text
    assert "Retry now" in page.text
    done = admin.post(f"/helpdesk/admin/mail/{row.id}/retry")
    assert done.status_code == 303
    assert done.headers["location"] == f"/helpdesk/admin/mail/{row.id}?done=retry"
    [row] = desk.outbox()
    assert (row.state, row.attempts) == ("queued", 0)
    with desk.sessions.begin() as session:
        session.execute(update(OutboxMail).values(state="sent"))
    refused = admin.post(f"/helpdesk/admin/mail/{row.id}/retry")
    assert refused.status_code == 409
    assert "is sent: only a queued or failed mail is retried" in refused.text
    assert admin.get("/helpdesk/admin/mail/99999").status_code == 404
    assert admin.post("/helpdesk/admin/mail/99999/retry").status_code == 404


def test_a_merged_notice_names_the_mail_it_joined(admin: TestClient, desk: Desk) -> None:
    item = desk.ticket(desk.person("alice@example.org"), title="Printer jams")
    desk.notify(item, "[INC] We received your request", "Hello, we will answer within a day.")
    created, notice = desk.outbox()
    assert (notice.state, notice.merged_into_id) == ("merged", created.id)
    page = admin.get("/helpdesk/admin/mail")
    assert f"<td>(merged into mail {created.id})</td>" in page.text
    assert page.text.count("(not rendered yet)") == 1  # the receipt, still waiting
    detail = admin.get(f"/helpdesk/admin/mail/{notice.id}")
    assert f"Mail {notice.id}: (merged into mail {created.id})" in detail.text
