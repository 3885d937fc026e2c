"""The demo knowledge base: a dozen articles in the demo's categories, loaded once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugins.helpdesk import demo as helpdesk_demo
from plugins.helpdesk.kb import demo
from plugins.helpdesk.kb.models import Article
from plugins.helpdesk.kb.search import Scope, search


def test_the_demo_articles_load_once(session: Session) -> None:
    helpdesk_demo.load(session)
    demo.load(session)
    demo.load(session)
    session.flush()

    articles = session.scalars(select(Article)).all()
    assert len(articles) == len(demo.ARTICLES) == 12
    assert sum(a.visibility == "public" for a in articles) == 9
    assert all(a.category_id is not None and a.status == "published" for a in articles)
    assert all(a.author_id is not None for a in articles)
    found = search(session, "docking black screen", Scope.PUBLIC)
    assert found[0].title == "External screen stays black after docking"
    assert session.scalar(select(func.count()).select_from(Article)) == 12
