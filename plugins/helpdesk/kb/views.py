"""The knowledge base's pages: search and browse, one article, writing and publishing.

``GET /kb`` searches (``q``) and browses by category (``category``, a slug);
requesters see published public articles only, staff every article, drafts
marked. ``GET /kb/{id}`` shows one rendered (404 for an article the viewer may
not read: its existence is not theirs to know). Agents write and edit;
team leads and administrators publish (:mod:`plugins.helpdesk.kb.articles`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import Response

from engine.comments import is_staff
from engine.model import WorkItem, utcnow
from engine.web.access import Viewer, can_view_work_item, viewer_of
from engine.web.admin_support import Field, notice, read, redirect, submitted, widgets, write
from engine.web.errors import error_response
from engine.web.forms import Widget
from engine.web.timeline import Moment, moment
from plugins.helpdesk.kb import articles
from plugins.helpdesk.kb.models import MAX_TITLE, VISIBILITIES, Article, ArticleTicket
from plugins.helpdesk.kb.render import render
from plugins.helpdesk.kb.search import (
    MAX_QUERY,
    Hit,
    Scope,
    Segment,
    search,
    segments,
    visible,
)
from plugins.helpdesk.kb.selfhelp import Deflections, deflections
from plugins.helpdesk.models import Category

NOTICES = {
    "created": "The draft was saved. A team lead publishes it.",
    "saved": "Your changes were saved.",
    "published": "The article is published.",
    "withdrawn": "The article is a draft again.",
    "drafted": "A draft was made from the ticket's resolution and linked to it: edit it here.",
    "linked": "The article is linked to the ticket.",
}
VISIBILITY_LABELS = {"internal": "Internal (staff only)", "public": "Public (requesters too)"}
BROWSE_LIMIT = 200


def scope_of(viewer: Viewer) -> Scope:
    """What ``viewer`` may find: everything for staff, published public articles otherwise."""
    return Scope.STAFF if is_staff(viewer.roles) else Scope.PUBLIC


# ---------------------------------------------------------------- the list ---


@dataclass(frozen=True)
class CategoryLink:
    slug: str
    name: str
    href: str
    current: bool


@dataclass(frozen=True)
class Row:
    """An article in the list: a search hit or a browsed article."""

    href: str
    title: str
    excerpt: tuple[Segment, ...]
    category: str
    labels: tuple[str, ...]


def _labels(status: str, visibility: str, staff: bool) -> tuple[str, ...]:
    if not staff:
        return ()
    return tuple(x for x in ("Draft" if status == "draft" else "", visibility.capitalize()) if x)


def _row(hit: Hit, staff: bool) -> Row:
    return Row(f"/kb/{hit.id}", hit.title, hit.excerpt, hit.category or "",
               _labels(hit.status, hit.visibility, staff))  # fmt: skip


def browse(db: Session, scope: Scope, category_id: int | None) -> list[Hit]:
    """The articles ``scope`` may see (of one category), by category and title."""
    query = (
        select(Article)
        .options(selectinload(Article.category))
        .where(visible(scope))
        .order_by(Article.title, Article.id)
        .limit(BROWSE_LIMIT)
    )
    if category_id is not None:
        query = query.where(Article.category_id == category_id)
    return [
        Hit(a.id, a.title, segments("", a.body), a.category.name if a.category else None,
            a.visibility, a.status, 0.0)
        for a in db.scalars(query)
    ]  # fmt: skip


async def index(request: Request) -> Response:
    """GET /kb: search and browse."""
    viewer = viewer_of(request)
    staff, scope = is_staff(viewer.roles), scope_of(viewer)
    q = request.query_params.get("q", "")
    chosen = request.query_params.get("category", "")

    def load(db: Session) -> tuple[list[Row], list[CategoryLink], str, Deflections | None]:
        cats = db.execute(
            select(Category.id, Category.slug, Category.name)
            .filter_by(active=True)
            .order_by(Category.name)
        ).all()
        by_slug = {slug: id_ for id_, slug, _ in cats}
        problem = ""
        if chosen and chosen not in by_slug:
            problem = f"There is no category {chosen[:40]!r}; choose one of the list."
        category_id = by_slug.get(chosen)
        found = (search(db, q, scope, category_id=category_id, limit=50) if q.strip()
                 else browse(db, scope, category_id))  # fmt: skip
        links = [CategoryLink(s, n, f"?category={s}", s == chosen) for _, s, n in cats]
        now = utcnow()
        stats = deflections(db, now - timedelta(days=30), now) if staff else None
        return [_row(hit, staff) for hit in found], links, problem, stats

    rows, links, problem, stats = await read(request, load)
    return request.app.state.templates.TemplateResponse(
        request,
        "helpdesk/kb/index.html",
        {
            "rows": rows, "categories": links, "q": q[:MAX_QUERY], "chosen": chosen,
            "problem": problem, "cut": len(q) > MAX_QUERY, "stats": stats,
            "can_write": articles.may_write(viewer), "searched": bool(q.strip()),
        },
        status_code=400 if problem else 200,
    )  # fmt: skip


# ------------------------------------------------------------ one article ---


@dataclass(frozen=True)
class TicketLink:
    href: str
    reference: str
    title: str
    how: str


@dataclass(frozen=True)
class ArticlePage:
    id: int
    number: str
    """"Article 12" for staff, who link articles to tickets by number; "" for others."""
    title: str
    html: Markup
    category: str
    labels: tuple[str, ...]
    updated: Moment
    updated_by: str
    tickets: tuple[TicketLink, ...]
    can_edit: bool
    can_publish: bool
    published: bool


HOW = {"linked": "Linked", "drafted": "Drafted from it", "self_help": "Solved by self-help"}


def _tickets(db: Session, viewer: Viewer, article_id: int) -> tuple[TicketLink, ...]:
    rows = db.execute(
        select(WorkItem, ArticleTicket.how)
        .join(ArticleTicket, ArticleTicket.work_item_id == WorkItem.id)
        .where(ArticleTicket.article_id == article_id)
        .order_by(ArticleTicket.linked_at.desc())
        .limit(50)
    ).all()
    return tuple(
        TicketLink(f"/items/{item.id}", item.reference or f"#{item.id}", item.title, HOW[how])
        for item, how in rows
        if can_view_work_item(viewer, item)
    )


def load_article(db: Session, viewer: Viewer, article_id: int) -> ArticlePage | None:
    """The page of article ``article_id`` for ``viewer``; ``None`` if they may not read it."""
    article = db.get(Article, article_id)
    if article is None or not articles.may_read(viewer, article):
        return None
    staff = is_staff(viewer.roles)
    return ArticlePage(
        id=article.id, number=f"Article {article.id}" if staff else "",
        title=article.title, html=render(article.body),
        category=article.category.name if article.category else "",
        labels=_labels(article.status, article.visibility, staff),
        updated=moment(article.updated_at),
        updated_by=article.updated_by.name if staff and article.updated_by else "",
        tickets=_tickets(db, viewer, article.id) if staff else (),
        can_edit=articles.may_write(viewer),
        can_publish=articles.may_publish(db, viewer),
        published=article.status == "published",
    )  # fmt: skip


def _missing(request: Request) -> Response:
    return error_response(request, 404, "There is no such article; the knowledge base is at /kb.")


async def show(request: Request) -> Response:
    """GET /kb/{article_id}: the article, rendered."""
    viewer, article_id = viewer_of(request), request.path_params["article_id"]
    found = await read(request, lambda db: load_article(db, viewer, article_id))
    if found is None:
        return _missing(request)
    return request.app.state.templates.TemplateResponse(
        request, "helpdesk/kb/article.html", {"article": found, "notice": notice(request, NOTICES)}
    )


# ------------------------------------------------------------- the editor ---


def fields(db: Session) -> list[Field]:
    categories = db.execute(
        select(Category.id, Category.name).filter_by(active=True).order_by(Category.name)
    ).all()
    return [
        Field("title", "Title", required=True, attrs=(("maxlength", str(MAX_TITLE)),)),
        Field("category", "Category", control="select",
              options=(("", "No category"), *((str(i), n) for i, n in categories))),
        Field("visibility", "Who may read it", control="radio", required=True,
              options=tuple((v, VISIBILITY_LABELS[v]) for v in VISIBILITIES)),
        Field("body", "Article", control="textarea", required=True,
              help="Markdown: # headings, **bold**, lists, `code`, [links](https://…)."),
    ]  # fmt: skip


def _values(article: Article) -> dict[str, str | list[str]]:
    return {
        "title": article.title, "body": article.body, "visibility": article.visibility,
        "category": str(article.category_id or ""),
    }  # fmt: skip


async def _editor(
    request: Request,
    values: dict[str, str | list[str]],
    errors: dict[str, str],
    article_id: int | None = None,
    status: int = 200,
) -> Response:
    made: list[Widget] = await read(request, lambda db: widgets(fields(db), values, errors))
    body = values.get("body")
    check = articles.CHECK_NOTE if isinstance(body, str) and articles.needs_check(body) else ""
    return request.app.state.templates.TemplateResponse(
        request,
        "helpdesk/kb/edit.html",
        {"widgets": made, "article_id": article_id, "title": values.get("title") or "",
         "check": check},
        status_code=status,
    )  # fmt: skip


async def new(request: Request) -> Response:
    """GET /kb/new: an empty article."""
    return await _editor(request, {"visibility": "internal"}, {})


async def create(request: Request) -> Response:
    """POST /kb/new: the draft saved; the form again, input kept, on a mistake."""
    posted = await request.form()
    viewer, given = viewer_of(request), articles.ArticleInput.from_form(posted)
    try:
        made = await write(request, lambda db: articles.create_article(db, given, viewer).id)
    except articles.KbError as exc:
        return await _editor(request, submitted(posted), exc.errors, status=exc.status)
    return redirect(request, "kb.article", "created", article_id=made)


async def edit(request: Request) -> Response:
    """GET /kb/{article_id}/edit."""
    article_id = request.path_params["article_id"]
    values = await read(
        request, lambda db: _values(a) if (a := db.get(Article, article_id)) else None
    )
    if values is None:
        return _missing(request)
    return await _editor(request, values, {}, article_id)


async def save(request: Request) -> Response:
    """POST /kb/{article_id}/edit."""
    posted, viewer = await request.form(), viewer_of(request)
    article_id, given = request.path_params["article_id"], articles.ArticleInput.from_form(posted)

    def change(db: Session) -> bool:
        article = db.get(Article, article_id)
        if article is not None:
            articles.update_article(db, article, given, viewer)
        return article is not None

    try:
        if not await write(request, change):
            return _missing(request)
    except articles.KbError as exc:
        return await _editor(request, submitted(posted), exc.errors, article_id, exc.status)
    return redirect(request, "kb.article", "saved", article_id=article_id)


async def publish(request: Request) -> Response:
    """POST /kb/{article_id}/publish: ``published=1`` publishes, ``0`` takes back to draft."""
    posted, viewer = await request.form(), viewer_of(request)
    article_id, wanted = request.path_params["article_id"], posted.get("published") != "0"

    def change(db: Session) -> bool:
        article = db.get(Article, article_id)
        if article is not None:
            articles.publish(db, article, viewer, published=wanted)
        return article is not None

    try:
        if not await write(request, change):
            return _missing(request)
    except articles.KbError as exc:
        return error_response(request, exc.status, str(exc))
    return redirect(request, "kb.article", "published" if wanted else "withdrawn",
                    article_id=article_id)  # fmt: skip
