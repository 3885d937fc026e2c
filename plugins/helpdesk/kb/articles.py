"""Writing the knowledge base: who may do what, saving and publishing articles, linking tickets.

Every change is checked here (views only call these), refused with a
:class:`KbError` whose ``status`` is the HTTP status it means and whose
``errors`` name the fields at fault; a refused change writes nothing.
Linking an article to a ticket is recorded on the ticket as an
``article_linked`` event (once per article and ticket).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from engine.comments import is_staff
from engine.errors import TierflowError
from engine.events import record_event
from engine.model import Membership, Task, WorkItem, utcnow
from engine.plugins import PluginManager
from engine.web.access import Viewer
from plugins.helpdesk.kb.models import (
    MAX_BODY,
    MAX_TITLE,
    VISIBILITIES,
    Article,
    ArticleTicket,
)
from plugins.helpdesk.models import Category, Ticket

DRAFT_LEVELS = frozenset({"L2", "L3"})
"""Levels of the agents who turn a resolution into a draft article in one step."""
RESOLVED = frozenset({"resolved", "closed"})
FIXED = ("fixed", "resolved")
"""Task outcomes that mean the ticket was solved; their form's text is the resolution."""
RESOLUTION_FIELDS = ("resolution", "diagnosis")
CHECK_NOTE = "Check this draft: remove names, addresses and anything personal before publishing."
"""The note at the top of a draft made from a ticket; it is published only once removed."""
CHECK_LINE = f"> **{CHECK_NOTE.replace(':', ':**', 1)}"
NOT_ARTICLE_TEXT = re.compile(r"(?m)^(?:Attached|Not kept): .*(?:\n|$)")
"""The lines inbound mail adds to a description (the files it kept or not): no article's text."""


class KbError(TierflowError):
    """A knowledge-base change that cannot be made; nothing was written."""

    def __init__(self, message: str, status: int = 400, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or {}


# -------------------------------------------------------------- who may ---


def may_read(viewer: Viewer, article: Article) -> bool:
    """Staff read every article, drafts too; everyone else published public ones."""
    return is_staff(viewer.roles) or article.is_public


def may_write(viewer: Viewer) -> bool:
    """Agents (and administrators) write and edit articles."""
    return viewer.is_admin or viewer.is_agent


def may_publish(session: Session, viewer: Viewer) -> bool:
    """Team leads and administrators publish: what requesters read is someone's call."""
    if viewer.is_admin:
        return True
    if not viewer.is_agent or viewer.person_id is None:
        return False
    leads = select(Membership).filter_by(person_id=viewer.person_id, role="lead")
    return bool(session.scalar(select(exists(leads))))


def may_draft(viewer: Viewer) -> bool:
    """Level 2 and 3 agents (and administrators) draft articles from resolutions."""
    return viewer.is_admin or (viewer.is_agent and viewer.level in DRAFT_LEVELS)


# ------------------------------------------------------------ the form ---


@dataclass(frozen=True)
class ArticleInput:
    """An article's fields as a form posts them, checked by :func:`check`."""

    title: str = ""
    body: str = ""
    category: str = ""
    visibility: str = "internal"

    @classmethod
    def from_form(cls, posted: Mapping[str, object]) -> ArticleInput:
        def text(name: str, default: str = "") -> str:
            value = posted.get(name, default)
            return value if isinstance(value, str) else default

        return cls(
            text("title").strip(),
            text("body").replace("\r\n", "\n"),
            text("category").strip(),
            text("visibility", "internal"),
        )


@dataclass(frozen=True)
class Checked:
    title: str
    body: str
    category_id: int | None
    visibility: str
    errors: dict[str, str] = field(default_factory=dict)


def check(session: Session, given: ArticleInput) -> Checked:
    """``given`` as column values; :class:`KbError` (422) naming every field at fault."""
    errors: dict[str, str] = {}
    for name in ("title", "body", "category", "visibility"):
        if "\x00" in getattr(given, name):
            errors[name] = "contains a NUL character, which no text may hold"
    if "title" not in errors and not given.title:
        errors["title"] = "give the article a title"
    elif len(given.title) > MAX_TITLE:
        errors["title"] = f"is {len(given.title)} characters long; at most {MAX_TITLE}"
    if len(given.body) > MAX_BODY:
        errors["body"] = f"is {len(given.body)} characters long; at most {MAX_BODY}"
    if given.visibility not in VISIBILITIES:
        errors["visibility"] = f"choose one of: {', '.join(VISIBILITIES)}"
    category_id = None
    if given.category and "category" not in errors:
        category_id = _category_id(session, given.category)
        if category_id is None:
            errors["category"] = f"there is no category {given.category[:40]!r}"
    if errors:
        raise KbError("the article has mistakes: " + _listed(errors), 422, errors)
    return Checked(given.title, given.body, category_id, given.visibility)


def _category_id(session: Session, given: str) -> int | None:
    if not given.isdigit() or len(given) > 9:
        return None
    return session.scalar(select(Category.id).filter_by(id=int(given), active=True))


def _listed(errors: Mapping[str, str]) -> str:
    return "; ".join(f"{name}: {message}" for name, message in errors.items())


# ------------------------------------------------------------- changes ---


def create_article(session: Session, given: ArticleInput, viewer: Viewer) -> Article:
    """A new draft from ``given`` (checked), written by ``viewer``."""
    values = check(session, given)
    article = Article(
        title=values.title, body=values.body, category_id=values.category_id,
        visibility=values.visibility, status="draft",
        author_id=viewer.person_id, updated_by_id=viewer.person_id,
    )  # fmt: skip
    session.add(article)
    session.flush()
    return article


def update_article(session: Session, article: Article, given: ArticleInput, viewer: Viewer) -> None:
    """Save ``given`` (checked) over ``article``; ``viewer`` saved it last."""
    values = check(session, given)
    article.title, article.body = values.title, values.body
    article.category_id, article.visibility = values.category_id, values.visibility
    article.updated_by_id = viewer.person_id
    session.flush()


def publish(session: Session, article: Article, viewer: Viewer, *, published: bool) -> None:
    """Publish ``article`` (or take it back to draft); team leads and administrators only."""
    if not may_publish(session, viewer):
        raise KbError(
            "only team leads and administrators publish articles or take them back; "
            "ask the lead of your team",
            403,
        )
    if published and needs_check(article.body):
        raise KbError(
            "this draft still starts with “Check this draft”: remove names, addresses and "
            "anything personal, delete the note in the editor, then publish",
            409,
        )
    article.status = "published" if published else "draft"
    article.published_at = (article.published_at or utcnow()) if published else None
    article.updated_by_id = viewer.person_id
    session.flush()


def link(
    session: Session, pm: PluginManager, article: Article, item: WorkItem, *, by: int | None,
    how: str = "linked",
) -> bool:  # fmt: skip
    """Record that ``article`` solved ``item``, with an event on it; ``False`` if it was already."""
    if session.get(ArticleTicket, (article.id, item.id)) is not None:
        return False
    session.add(ArticleTicket(article_id=article.id, work_item_id=item.id, how=how,
                              linked_by_id=by))  # fmt: skip
    session.flush()
    record_event(
        session, pm, work_item_id=item.id, type="article_linked", actor_id=by,
        data={"article": article.id, "title": article.title, "how": how},
        key=f"kb/linked/{article.id}/{item.id}",
    )  # fmt: skip
    return True


# --------------------------------------------- a draft from a resolution ---


def needs_check(body: str) -> bool:
    """Whether ``body`` still carries the note of a draft made from a ticket."""
    return CHECK_NOTE in body.replace("**", "")


def resolution_text(session: Session, item: WorkItem) -> str:
    """What the team wrote when it solved ``item``: the last fixing task's resolution."""
    tasks = session.scalars(
        select(Task)
        .where(Task.work_item_id == item.id, Task.status == "completed")
        .order_by(Task.completed_at.desc().nulls_last(), Task.id.desc())
    ).all()
    ordered = [t for t in tasks if t.outcome in FIXED] + [
        t for t in tasks if t.outcome not in FIXED
    ]
    for task in ordered:
        data = task.data if isinstance(task.data, Mapping) else {}
        for name in RESOLUTION_FIELDS:
            value = data.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ""


def draft_from_resolution(
    session: Session, pm: PluginManager, item: WorkItem, viewer: Viewer
) -> tuple[Article, bool]:
    """A draft article from resolved ``item``, linked to it; the one drafted before if any.

    Returns the article and whether it is new. The title is the ticket's, the
    body its problem (without the lines naming attached files) and the
    resolution the team recorded, under :data:`CHECK_NOTE`: the requester's
    own words may name people, and the draft cannot be published until
    someone has checked it and removed the note.
    """
    if not may_draft(viewer):
        raise KbError("drafting an article from a resolution is for level 2 and 3 agents", 403)
    earlier = session.scalar(
        select(Article)
        .join(ArticleTicket, ArticleTicket.article_id == Article.id)
        .where(ArticleTicket.work_item_id == item.id, ArticleTicket.how == "drafted")
    )
    if earlier is not None:
        return earlier, False
    resolution = resolution_text(session, item)
    if item.status not in RESOLVED or not resolution:
        raise KbError(
            f"{item.reference or f'item {item.id}'} has no recorded resolution yet: draft an "
            "article once the ticket is resolved",
            409,
        )
    problem = NOT_ARTICLE_TEXT.sub("", item.description or "").strip() or item.title
    body = f"{CHECK_LINE}\n\n## Problem\n\n{problem}\n\n## Solution\n\n{resolution}\n"
    facts = session.get(Ticket, item.id)
    given = ArticleInput(item.title[:MAX_TITLE], body[:MAX_BODY])
    article = create_article(session, given, viewer)
    article.category_id = facts.category_id if facts is not None else None
    link(session, pm, article, item, by=viewer.person_id, how="drafted")
    return article, True
