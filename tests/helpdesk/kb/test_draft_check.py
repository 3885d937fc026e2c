"""A draft made from a ticket's resolution is checked before anyone can publish it.

The requester's description may hold names, addresses and the list of files a
mail carried: the draft leaves out the "Attached:"/"Not kept:" lines inbound
mail adds, starts with a note asking for a check that the editor shows, and
stays a draft until someone has removed the note.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.model import Membership, Task, WorkItem
from plugins.helpdesk.kb.articles import CHECK_NOTE
from plugins.helpdesk.kb.models import Article
from tests.helpdesk.kb.conftest import Library

DESCRIPTION = (
    "Hi, Jane Doe here (Flat 2, 10 Elm Street). The external screen stays black.\n\n"
    "Attached: evil.html, report.pdf\n\n"
    "Not kept: movie.mp4 is larger than 10 MB"
)


def test_a_drafted_article_drops_attachment_lines_and_asks_for_a_check(
    kb_client, library: Library, session: Session
) -> None:
    item_id = library.items["own"]
    item = session.get(WorkItem, item_id)
    item.status, item.description = "resolved", DESCRIPTION
    session.add(Task(work_item_id=item_id, workflow_id=item.workflow_id, step_id="fix",
                     title="Fix", status="completed", outcome="fixed",
                     data={"resolution": "Replaced the dock's power supply."}))  # fmt: skip
    membership = session.scalars(
        select(Membership).filter_by(
            team_id=library.teams["own"], person_id=library.people["agent"]
        )
    ).one()
    membership.role = "lead"  # so that the agent may publish too
    session.commit()
    agent, token = kb_client("agent")

    drafted = agent.post(f"/kb/draft/{item_id}", data={"csrf_token": token})
    assert drafted.status_code == 303
    article_id = int(re.search(r"/kb/(\d+)", drafted.headers["location"]).group(1))
    body = session.get(Article, article_id).body
    session.rollback()
    assert body.startswith("> **Check this draft:** remove names, addresses and anything")
    assert "The external screen stays black." in body
    for dropped in ("Attached", "evil.html", "Not kept"):
        assert dropped not in body
    assert "Replaced the dock's power supply." in body

    editor = agent.get(f"/kb/{article_id}/edit").text
    assert f'<p class="notice" role="note"><strong>{CHECK_NOTE}</strong>' in editor
    page = agent.get(f"/kb/{article_id}").text
    assert "<strong>Check this draft:</strong>" in page

    refused = agent.post(f"/kb/{article_id}/publish", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "still starts with “Check this draft”" in refused.text
    session.expire_all()
    assert session.get(Article, article_id).status == "draft"
    session.rollback()

    checked = body.split("\n\n", 1)[1].replace("Hi, Jane Doe here (Flat 2, 10 Elm Street). ", "")
    saved = agent.post(f"/kb/{article_id}/edit", data={
        "csrf_token": token, "title": "External screen stays black", "visibility": "internal",
        "body": checked,
    })  # fmt: skip
    assert saved.status_code == 303
    assert CHECK_NOTE not in agent.get(f"/kb/{article_id}/edit").text
    published = agent.post(f"/kb/{article_id}/publish", data={"csrf_token": token})
    assert published.status_code == 303
    session.expire_all()
    assert session.get(Article, article_id).status == "published"
