"""Self-help at intake: suggestions as JSON and in the form, and "This solved it" closing a request.

The request closed by self-help is a work item of the type being filled in,
created closed by the portal with its events and a self-help row, once per
idempotency key; no workflow run is started (Temporal is down in these tests,
and the request still closes).
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.model import Event, WorkItem, utcnow
from engine.web.portal import REFRESH_FIELD
from plugins.helpdesk.kb.models import ArticleTicket, SelfHelp
from plugins.helpdesk.kb.selfhelp import deflections
from tests.helpdesk.kb.conftest import Library
from tests.web.conftest import form_token


def test_suggestions_as_json_while_typing(kb_client, library: Library) -> None:
    client, _ = kb_client("requester")
    reply = client.get("/api/kb/suggestions", params={"q": "my vp"})
    assert reply.status_code == 200
    found = reply.json()["articles"]
    # the world of the matrix has a "Reset your VPN token" of its own
    assert [a["title"] for a in found][-1] == "Wi-Fi keeps dropping"
    assert {a["title"] for a in found} == {"Reset your VPN token", "Wi-Fi keeps dropping"}
    vpn = next(a for a in found if a["id"] == library.ids["vpn"])
    assert vpn["href"] == f"/kb/{library.ids['vpn']}"
    assert {"text": "VPN", "matched": True} in vpn["excerpt"]
    staff, _ = kb_client("agent")  # the portal suggests public articles, even to staff
    titles = [a["title"] for a in staff.get("/api/kb/suggestions?q=vpn").json()["articles"]]
    assert "VPN concentrator failover" not in titles
    assert client.get("/api/kb/suggestions", params={"q": '"*(' * 3000}).json() == {"articles": []}
    assert client.get("/api/kb/suggestions?q=vpn%00").status_code == 400
    assert client.get("/api/kb/suggestions").json() == {"articles": []}


def test_the_form_suggests_answers_without_javascript(kb_client, library: Library) -> None:
    client, _ = kb_client("requester")
    form = client.get("/portal/new/incident")
    assert "Answers that may help" in form.text
    assert 'data-kb-watch="summary"' in form.text
    assert '<script src="/kb/self-help.js" defer></script>' in form.text
    again = client.post("/portal/new/incident", data={
        "csrf_token": form_token(form.text), "idempotency_key": "key-1",
        "summary": "VPN token expired", REFRESH_FIELD: "1",
    })  # fmt: skip
    assert again.status_code == 200
    assert 'value="VPN token expired"' in again.text
    assert f'formaction="/kb/self-help/incident" name="article" value="{library.ids["vpn"]}"' in (
        again.text
    )
    assert "VPN concentrator failover" not in again.text
    script = client.get("/kb/self-help.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")


def solve(client, token: str, article: int, key: str = "key-1"):
    return client.post("/kb/self-help/incident", data={
        "csrf_token": token, "idempotency_key": key, "summary": "My VPN token expired",
        "details": "", "article": str(article),
    })  # fmt: skip


def test_this_solved_it_closes_the_request_as_self_help(
    kb_client, library: Library, session: Session
) -> None:
    client, token = kb_client("requester")
    first = solve(client, token, library.ids["vpn"])
    second = solve(client, token, library.ids["vpn"])  # a double click

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    item_id = int(re.search(r"/items/(\d+)", first.headers["location"]).group(1))
    item = session.get(WorkItem, item_id)
    assert (item.kind, item.type, item.status, item.channel) == (
        "ticket",
        "incident",
        "closed",
        "portal",
    )
    assert item.closed_at is not None
    assert item.workflow_id is None  # no run
    assert item.requester_id == library.people["requester"]
    assert item.title == "My VPN token expired"
    assert item.custom["resolution"] == "Self-help with the article “Reset your VPN token”"
    assert re.fullmatch(r"TIC-\d{5}", item.reference)
    events = session.scalars(select(Event.type).filter_by(work_item_id=item_id)).all()
    assert sorted(events) == ["article_linked", "closed", "created", "status_changed"]
    closed = session.scalars(select(Event).filter_by(work_item_id=item_id, type="closed")).one()
    assert closed.data == {"by": "self_help", "article": library.ids["vpn"],
                           "title": "Reset your VPN token"}  # fmt: skip
    assert session.scalar(select(func.count()).select_from(SelfHelp)) == 1
    assert session.get(ArticleTicket, (library.ids["vpn"], item_id)).how == "self_help"
    now = utcnow()
    counted = deflections(session, now - timedelta(days=1), now + timedelta(minutes=1))
    assert counted.total == 1
    assert counted.by_article == ((library.ids["vpn"], "Reset your VPN token", 1),)
    session.rollback()

    page = client.get(f"/items/{item_id}").text
    assert "You closed this request yourself" in page
    listed = client.get("/portal", params={"show": "closed"}).text
    assert item.reference in listed


def test_only_published_public_articles_close_a_request(
    kb_client, library: Library, session: Session
) -> None:
    client, token = kb_client("requester")
    for hidden in ("internal", "draft"):
        reply = solve(client, token, library.ids[hidden], key=f"key-{hidden}")
        assert reply.status_code == 404, hidden
    assert solve(client, token, library.ids["vpn"], key="").status_code == 400
    no_article = client.post("/kb/self-help/incident", data={"csrf_token": token,
                                                             "idempotency_key": "k"})  # fmt: skip
    assert no_article.status_code == 422
    unknown = client.post("/kb/self-help/nope", data={
        "csrf_token": token, "idempotency_key": "k", "article": str(library.ids["vpn"]),
    })  # fmt: skip
    assert unknown.status_code == 404
    forged = client.post("/kb/self-help/incident", data={
        "idempotency_key": "k", "article": str(library.ids["vpn"]),
    })  # fmt: skip
    assert forged.status_code == 403
    assert session.scalar(select(func.count()).select_from(SelfHelp)) == 0
