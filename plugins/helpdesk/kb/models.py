"""The knowledge base's tables: articles, their links to tickets, and requests closed by self-help.

The full-text index is not a model: migration ``helpdesk_0003`` builds it per
dialect (an FTS5 table kept by triggers on SQLite, a generated ``tsvector``
column with a GIN index on PostgreSQL). Its names are declared below as built
beside the models (:data:`engine.migrate.OUTSIDE_MODELS`), so the model check
leaves them alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.migrate import OUTSIDE_MODELS
from engine.model import Base, CreatedAtMixin, IdMixin, Person, TimestampMixin, WorkItem, utcnow
from engine.model.people import one_of
from plugins.helpdesk.models import Category

VISIBILITIES = ("internal", "public")
"""Who may read an article: staff only, or requesters too (once published)."""
STATUSES = ("draft", "published")
LINKS = ("linked", "drafted", "self_help")
"""How an article came to be linked to a ticket: by an agent, drafted from its
resolution, or chosen by the requester as what solved it."""

ARTICLE_TABLE = "helpdesk_kb_article"
FTS_TABLE = "helpdesk_kb_article_fts"
"""SQLite: the FTS5 table indexing the articles' title and body (external content)."""
FTS_SHADOWS = tuple(f"{FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config"))
SEARCH_COLUMN = "search"
"""PostgreSQL: the generated ``tsvector`` column of the articles (title weighted A, body B)."""
SEARCH_INDEX = f"ix_{ARTICLE_TABLE}_{SEARCH_COLUMN}"

Base.metadata.info.setdefault(OUTSIDE_MODELS, set()).update(
    {FTS_TABLE, *FTS_SHADOWS, f"{ARTICLE_TABLE}.{SEARCH_COLUMN}", SEARCH_INDEX}
)

MAX_TITLE = 200
MAX_BODY = 100_000


class Article(IdMixin, TimestampMixin, Base):
    """A knowledge-base article: a title and a Markdown body, in a category.

    ``internal`` articles are for staff; ``public`` ones, once ``published``,
    are also shown to requesters and suggested in the portal. Drafts are for
    staff whatever their visibility. ``updated_by`` is who saved it last.
    """

    __tablename__ = ARTICLE_TABLE
    __table_args__ = (
        CheckConstraint(one_of("visibility", VISIBILITIES), name="visibility"),
        CheckConstraint(one_of("status", STATUSES), name="status"),
        Index(None, "status", "visibility"),
    )

    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    body: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_category.id", ondelete="SET NULL"), index=True
    )
    visibility: Mapped[str] = mapped_column(String(16), default="internal")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None]

    category: Mapped[Category | None] = relationship()
    author: Mapped[Person | None] = relationship(foreign_keys=[author_id])
    updated_by: Mapped[Person | None] = relationship(foreign_keys=[updated_by_id])

    @property
    def is_public(self) -> bool:
        """Whether requesters may read it: published and public."""
        return self.status == "published" and self.visibility == "public"

    def __repr__(self) -> str:
        return f"<Article {self.id} {self.status}/{self.visibility} {self.title[:30]!r}>"


class ArticleTicket(Base):
    """An article that solved a ticket ("solved by this article"); many to many."""

    __tablename__ = "helpdesk_kb_article_ticket"
    __table_args__ = (CheckConstraint(one_of("how", LINKS), name="how"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey(f"{ARTICLE_TABLE}.id", ondelete="CASCADE"), primary_key=True
    )
    work_item_id: Mapped[int] = mapped_column(
        ForeignKey("work_item.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    how: Mapped[str] = mapped_column(String(16), default="linked")
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship()
    work_item: Mapped[WorkItem] = relationship()

    def __repr__(self) -> str:
        return f"<ArticleTicket article={self.article_id} item={self.work_item_id} {self.how}>"


class SelfHelp(IdMixin, CreatedAtMixin, Base):
    """A request the requester closed at intake because an article answered it (a deflection).

    ``(requester, key)`` is the intake form's idempotency key: a double click
    records one request. Reports count these rows.
    """

    __tablename__ = "helpdesk_kb_self_help"
    __table_args__ = (UniqueConstraint("requester_id", "key"),)

    requester_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    work_item_id: Mapped[int] = mapped_column(
        ForeignKey("work_item.id", ondelete="CASCADE"), unique=True
    )
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{ARTICLE_TABLE}.id", ondelete="SET NULL"), index=True
    )
    request_type: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<SelfHelp item={self.work_item_id} article={self.article_id}>"
