"""The administrators' record of inbound mail: newest first, 50 a page, filtered by outcome;
bad parameters are refused with a clear 400, stored text is printed escaped."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.model import Person
from plugins.helpdesk.inbound.models import InboundMessage
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)


def test_the_record_pages_filters_and_escapes(
    session: Session,
    make_app: MakeApp,  # noqa: F811
    make_person,
) -> None:
    admin: Person = make_person(roles={"admin"})
    for number in range(55):
        session.add(
            InboundMessage(
                message_id=f"<m{number}@example.net>", transport="smtp",
                sender=f"sender{number}@example.net", subject=f"Mail <b>{number}</b>",
                size=100, outcome="dropped" if number % 5 == 0 else "ticket",
                reason="an automatic reply" if number % 5 == 0 else "created TIC-00001",
            )
        )  # fmt: skip
    session.commit()
    with TestClient(make_app(entry_points=True), follow_redirects=False) as browser:
        sign_in(browser, admin)
        first = browser.get("/helpdesk/admin/inbound")
        assert first.status_code == 200
        assert first.text.count("<tr>") == 51  # a heading row and 50 mails
        assert "Mail &lt;b&gt;54&lt;/b&gt;" in first.text
        assert "<b>54</b>" not in first.text
        [after] = re.findall(r'rel="next" href="\?before=(\d+)"', first.text)
        second = browser.get(f"/helpdesk/admin/inbound?before={after}")
        assert second.text.count("<tr>") == 6
        assert "Mail &lt;b&gt;0&lt;/b&gt;" in second.text
        assert 'rel="next"' not in second.text
        dropped = browser.get("/helpdesk/admin/inbound?outcome=dropped")
        assert dropped.text.count("<td>dropped</td>") == 11
        assert "<td>ticket</td>" not in dropped.text
        bad = browser.get("/helpdesk/admin/inbound?outcome=lost")
        assert bad.status_code == 400
        assert "There is no outcome &#39;lost&#39;; choose pending, taking, ticket" in bad.text
        assert browser.get("/helpdesk/admin/inbound?before=x").status_code == 400
