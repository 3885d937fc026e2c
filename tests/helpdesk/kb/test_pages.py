"""The knowledge base's pages: who reads what, writing and publishing, linking and drafting.

Run against the app with every built-in plugin, in the department of the
authorization matrix with the ``library`` of this folder's conftest, on both
databases.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.model import Event, Membership, Person, Task, WorkItem
from plugins.helpdesk.kb.models import Article, ArticleTicket
from tests.helpdesk.kb.conftest import ARTICLES, Library


def titles(page: str) -> set[str]:
    return set(re.findall(r'<a href="/kb/\d+"><strong>([^<]+)</strong></a>', page))


def test_requesters_read_published_public_articles_only(kb_client, library: Library) -> None:
    client, _ = kb_client("requester")
    listed = titles(client.get("/kb").text)
    assert listed == {"Reset your VPN token", "Wi-Fi keeps dropping", "Printer paper jam"}
    shown = client.get(f"/kb/{library.ids['vpn']}")
    assert shown.status_code == 200
    assert "<strong>VPN</strong>" in shown.text
    assert f"Article {library.ids['vpn']}" not in shown.text  # numbers are for staff
    for hidden in ("internal", "draft"):
        reply = client.get(f"/kb/{library.ids[hidden]}")
        assert reply.status_code == 404, hidden
        assert ARTICLES[hidden][0] not in reply.text
    assert "Write an article" not in client.get("/kb").text


def test_staff_see_every_article_drafts_marked(kb_client, library: Library) -> None:
    client, _ = kb_client("project_manager")
    page = client.get("/kb").text
    assert titles(page) == {title for title, *_ in ARTICLES.values()}
    assert "· Draft" in page
    assert "· Internal" in page
    internal = client.get(f"/kb/{library.ids['internal']}")
    assert internal.status_code == 200
    assert f"Article {library.ids['internal']} ·" in internal.text  # what the ticket links by


def test_search_and_categories(kb_client, library: Library) -> None:
    client, _ = kb_client("requester")
    found = client.get("/kb", params={"q": "vpn"}).text
    assert titles(found) == {"Reset your VPN token", "Wi-Fi keeps dropping"}
    assert found.index("Reset your VPN token") < found.index("Wi-Fi keeps dropping")
    assert "<mark>" in found
    hardware = client.get("/kb", params={"category": "hardware"}).text
    assert titles(hardware) == {"Printer paper jam"}
    unknown = client.get("/kb", params={"category": "nope"})
    assert unknown.status_code == 400
    assert "There is no category &#39;nope&#39;" in unknown.text
    for odd in ('"(', "NEAR(*", "x" * 20_000):
        reply = client.get("/kb", params={"q": odd})
        assert reply.status_code == 200, odd
    assert "Only the first 500 characters" in client.get("/kb", params={"q": "x" * 501}).text


def test_an_agent_drafts_and_a_team_lead_publishes(
    kb_client, library: Library, session: Session
) -> None:
    agent, token = kb_client("agent")
    empty = agent.post("/kb/new", data={"csrf_token": token, "body": "kept **text**",
                                        "visibility": "public"})  # fmt: skip
    assert empty.status_code == 422
    assert "Give the article a title" in empty.text
    assert "kept **text**" in empty.text

    made = agent.post("/kb/new", data={
        "csrf_token": token, "title": "Map a network drive", "visibility": "public",
        "category": str(library.categories["network"]), "body": "Open **Explorer**.",
    })  # fmt: skip
    assert made.status_code == 303
    article_id = int(re.search(r"/kb/(\d+)", made.headers["location"]).group(1))
    article = session.get(Article, article_id)
    assert (article.status, article.visibility) == ("draft", "public")
    assert article.author_id == library.people["agent"]
    session.rollback()  # the app writes next: SQLite takes one writer at a time
    requester, _ = kb_client("requester")
    assert requester.get(f"/kb/{article_id}").status_code == 404

    edited = agent.post(f"/kb/{article_id}/edit", data={
        "csrf_token": token, "title": "Map a network drive on Windows", "visibility": "public",
        "body": "Open **Explorer** and choose *Map network drive*.",
    })  # fmt: skip
    assert edited.status_code == 303
    refused = agent.post(f"/kb/{article_id}/publish", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "team leads and administrators" in refused.text

    session.add(Membership(team_id=library.teams["own"],
                           person_id=library.people["other_agent"], role="lead"))  # fmt: skip
    session.commit()
    lead, lead_token = kb_client("other_agent")
    assert (
        lead.post(f"/kb/{article_id}/publish", data={"csrf_token": lead_token}).status_code == 303
    )
    shown = requester.get(f"/kb/{article_id}")
    assert shown.status_code == 200
    assert "Map a network drive on Windows" in shown.text
    session.expire_all()
    assert session.get(Article, article_id).updated_by_id == library.people["other_agent"]


def test_forms_without_their_token_are_refused(kb_client, library: Library) -> None:
    agent, _ = kb_client("agent")
    reply = agent.post("/kb/new", data={"title": "Forged", "visibility": "public"})
    assert reply.status_code == 403
    assert "security token" in reply.text


def test_a_ticket_links_the_article_that_solved_it(
    kb_client, library: Library, session: Session
) -> None:
    item = library.items["own"]
    agent, token = kb_client("agent")
    page = agent.get(f"/items/{item}").text
    assert "Knowledge base" in page
    assert "Link to this ticket" in page
    vpn = library.ids["vpn"]
    for _ in range(2):  # a double click links once
        reply = agent.post(f"/kb/link/{item}", data={"csrf_token": token, "article": vpn})
        assert reply.status_code == 303
    links = session.scalars(select(ArticleTicket).filter_by(work_item_id=item)).all()
    assert [(link.article_id, link.how) for link in links] == [(vpn, "linked")]
    events = session.scalars(select(Event).filter_by(work_item_id=item, type="article_linked"))
    assert [event.data["article"] for event in events] == [vpn]
    session.rollback()
    bad = agent.post(f"/kb/link/{item}", data={"csrf_token": token, "article": "x'1"})
    assert bad.status_code == 422
    requester, _ = kb_client("requester")
    assert "Reset your VPN token" in requester.get(f"/items/{item}").text
    other, other_token = kb_client("other_agent")  # not theirs to see
    refused = other.post(f"/kb/link/{item}", data={"csrf_token": other_token, "article": vpn})
    assert refused.status_code == 404


def test_a_level_2_agent_drafts_an_article_from_the_resolution(
    kb_client, library: Library, session: Session
) -> None:
    item_id = library.items["own"]
    agent, token = kb_client("agent")
    assert agent.post(f"/kb/draft/{item_id}", data={"csrf_token": token}).status_code == 409
    session.rollback()
    item = session.get(WorkItem, item_id)
    item.status = "resolved"
    item.description = "The external screen stays black after docking."
    title = item.title
    session.add(Task(work_item_id=item_id, workflow_id=item.workflow_id, step_id="fix",
                     title="Fix", status="completed", outcome="fixed",
                     data={"resolution": "Replaced the dock's power supply."}))  # fmt: skip
    session.commit()
    assert "Draft an article from this resolution" in agent.get(f"/items/{item_id}").text

    first = agent.post(f"/kb/draft/{item_id}", data={"csrf_token": token})
    again = agent.post(f"/kb/draft/{item_id}", data={"csrf_token": token})

    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    article_id = int(re.search(r"/kb/(\d+)", first.headers["location"]).group(1))
    article = session.get(Article, article_id)
    assert (article.title, article.status, article.visibility) == (title, "draft", "internal")
    assert "stays black after docking" in article.body
    assert "Replaced the dock's power supply." in article.body
    assert session.get(ArticleTicket, (article_id, item_id)).how == "drafted"
    session.rollback()
    assert "A draft was made" in agent.get(first.headers["location"]).text
    level_1 = session.get(Person, library.people["other_agent"])
    level_1.level = "L1"
    session.add(Membership(team_id=library.teams["own"], person_id=level_1.id))
    session.commit()
    other, other_token = kb_client("other_agent")
    assert other.post(f"/kb/draft/{item_id}", data={"csrf_token": other_token}).status_code == 403
    drafted = session.scalars(select(ArticleTicket).filter_by(how="drafted")).all()
    assert [link.article_id for link in drafted] == [article_id]
