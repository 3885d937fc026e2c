"""The knowledge base on a ticket's page: the articles that solved it, linking, drafting.

Staff see the articles linked to the ticket, articles that match its title
with a "Link to this ticket" button each (or any article by number), and on a
resolved ticket level 2 and 3 agents get "Draft an article from this
resolution". The requester of a ticket closed by self-help sees the article
that answered it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from engine.comments import is_staff
from engine.contrib import ItemSection
from engine.model import WorkItem
from engine.web.access import Viewer, can_view_work_item, viewer_of
from engine.web.admin_support import as_id, redirect, write
from engine.web.errors import error_response
from plugins.helpdesk.kb import articles
from plugins.helpdesk.kb.models import Article, ArticleTicket, SelfHelp
from plugins.helpdesk.kb.search import Scope, search

TICKET = "ticket"
SUGGESTED = 5


@dataclass(frozen=True)
class Linked:
    href: str
    title: str
    how: str


@dataclass(frozen=True)
class Suggested:
    id: int
    href: str
    title: str


def _linked(session: Session, item: WorkItem, staff: bool) -> list[tuple[Article, str]]:
    rows = session.execute(
        select(Article, ArticleTicket.how)
        .join(ArticleTicket, ArticleTicket.article_id == Article.id)
        .where(ArticleTicket.work_item_id == item.id)
        .order_by(ArticleTicket.linked_at, Article.id)
    ).all()
    return [(a, how) for a, how in rows if staff or a.is_public]


def sections(item: WorkItem, viewer: Viewer, session: Session) -> list[ItemSection]:
    """The knowledge-base panel of ``item`` for ``viewer`` (none when there is nothing to show)."""
    if item.kind != TICKET:
        return []
    staff = is_staff(viewer.roles)
    linked = _linked(session, item, staff)
    if not staff:
        if not linked:
            return []
        rows = [Linked(f"/kb/{a.id}", a.title, how) for a, how in linked]
        self_help = any(how == "self_help" for _, how in linked)
        return [ItemSection("Solved with the knowledge base", "helpdesk/kb/ticket_requester.html",
                            {"rows": rows, "self_help": self_help}, order=20)]  # fmt: skip
    known = {a.id for a, _ in linked}
    hits = search(session, item.title, Scope.STAFF, limit=SUGGESTED + len(known))
    context = {
        "rows": [Linked(f"/kb/{a.id}", a.title, how) for a, how in linked],
        "suggested": [Suggested(h.id, f"/kb/{h.id}", h.title) for h in hits
                      if h.id not in known][:SUGGESTED],
        "can_link": articles.may_write(viewer),
        "link_action": f"/kb/link/{item.id}",
        "draft_action": f"/kb/draft/{item.id}" if _draftable(session, item, viewer) else "",
    }  # fmt: skip
    return [ItemSection("Knowledge base", "helpdesk/kb/ticket_staff.html", context, order=20)]


def _draftable(session: Session, item: WorkItem, viewer: Viewer) -> bool:
    return (
        articles.may_draft(viewer)
        and item.status in articles.RESOLVED
        and session.scalar(select(SelfHelp.id).filter_by(work_item_id=item.id)) is None
        and bool(articles.resolution_text(session, item))
    )


# ------------------------------------------------------------------ routes ---


def _item(db: Session, viewer: Viewer, item_id: int) -> WorkItem:
    item = db.get(WorkItem, item_id)
    if item is None or not can_view_work_item(viewer, item):
        raise articles.KbError(f"there is no ticket {item_id} you may see", 404)
    if item.kind != TICKET:
        raise articles.KbError(f"{item.reference or item_id} is not a ticket", 409)
    return item


async def link(request: Request) -> Response:
    """POST /kb/link/{item_id}: ``article`` (an id) solved this ticket."""
    posted, viewer = await request.form(), viewer_of(request)
    item_id, article_id = request.path_params["item_id"], as_id(posted.get("article"))

    def change(db: Session) -> None:
        item = _item(db, viewer, item_id)
        article = db.get(Article, article_id) if article_id is not None else None
        if article is None:
            given = str(posted.get("article") or "")[:20]
            raise articles.KbError(
                f"there is no article number {given!r}; the knowledge base lists them", 422
            )
        articles.link(db, request.app.state.pm, article, item, by=viewer.person_id)

    try:
        await write(request, change)
    except articles.KbError as exc:
        return error_response(request, exc.status, _sentence(str(exc)))
    return RedirectResponse(f"/items/{item_id}", 303)


async def draft(request: Request) -> Response:
    """POST /kb/draft/{item_id}: a draft article from the ticket's resolution, linked to it."""
    viewer, item_id = viewer_of(request), request.path_params["item_id"]

    def change(db: Session) -> int:
        item = _item(db, viewer, item_id)
        article, _ = articles.draft_from_resolution(db, request.app.state.pm, item, viewer)
        return article.id

    try:
        article_id = await write(request, change)
    except articles.KbError as exc:
        return error_response(request, exc.status, _sentence(str(exc)))
    return redirect(request, "kb.article", "drafted", article_id=article_id)


def _sentence(message: str) -> str:
    return f"{message[:1].upper()}{message[1:]}."
