"""Full-text search of the articles: one function, one implementation per database.

:func:`search` takes what a person typed and never lets it reach a query
language: the text is cut to :data:`MAX_QUERY` characters and reduced to its
words (letters and digits), each quoted. Articles that contain every word are
ranked first; if none does, those with any of them. With ``prefix`` the last
word also matches the beginning of longer words, for suggestions as one types.

- SQLite: the FTS5 table ``helpdesk_kb_article_fts``, ranked by ``bm25()``
  (a title match weighs ten times a body match), ``snippet()`` for the excerpt;
- PostgreSQL: the generated ``search`` column, ``websearch_to_tsquery`` (plus a
  ``to_tsquery`` prefix term), ranked by ``ts_rank_cd``, ``ts_headline``.

What a viewer may read is part of the query (:class:`Scope`), never filtered after.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    func,
    literal_column,
    select,
    table,
    true,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from plugins.helpdesk.kb.models import FTS_TABLE, SEARCH_COLUMN, Article
from plugins.helpdesk.models import Category

MAX_QUERY = 500
"""Characters of a query looked at; the rest is ignored."""
MAX_WORDS = 12
MAX_WORD = 64
START, STOP = "\x02", "\x03"
"""Marks around matched words in an excerpt, split into :class:`Segment` s afterwards."""
_WORD = re.compile(r"\w+")
_MARKUP = re.compile(r"\]\([^)\s]*\)|[#*`<>\[\]|]+|\s{2,}")


class Scope(Enum):
    """Which articles a search may return."""

    PUBLIC = "public"
    """Published public articles: what requesters read and the portal suggests."""
    STAFF = "staff"
    """Every article, drafts and internal ones too."""


@dataclass(frozen=True)
class Segment:
    """A piece of an excerpt; ``matched`` pieces are the words searched for."""

    text: str
    matched: bool


@dataclass(frozen=True)
class Hit:
    """One article found, best first."""

    id: int
    title: str
    excerpt: tuple[Segment, ...]
    category: str | None
    visibility: str
    status: str
    rank: float


def terms(text: str) -> list[str]:
    """The words of ``text`` a search looks for: at most :data:`MAX_WORDS`, each cut short."""
    return [word[:MAX_WORD] for word in _WORD.findall(text[:MAX_QUERY].casefold())][:MAX_WORDS]


def visible(scope: Scope) -> ColumnElement[bool]:
    """The condition on :class:`Article` of what ``scope`` may see."""
    if scope is Scope.STAFF:
        return true()
    return and_(Article.status == "published", Article.visibility == "public")


def search(
    session: Session,
    text: str,
    scope: Scope,
    *,
    prefix: bool = False,
    category_id: int | None = None,
    limit: int = 10,
) -> list[Hit]:
    """The articles ``scope`` may see that match ``text``, best first (``[]``: no words)."""
    words = terms(text)
    if not words:
        return []
    run = _DIALECTS[session.get_bind().dialect.name]
    where = [visible(scope)]
    if category_id is not None:
        where.append(Article.category_id == category_id)
    for every in (True, False) if len(words) > 1 else (True,):
        rows = session.execute(run(words, every, prefix).where(*where).limit(limit)).all()
        if rows:
            return [_hit(row) for row in rows]
    return []


def _base(rank: ColumnElement[float], excerpt: ColumnElement[str]) -> Select:
    return select(
        Article.id, Article.title, Category.name, Article.visibility, Article.status,
        rank.label("rank"), excerpt.label("excerpt"), Article.body,
    ).outerjoin(Category, Category.id == Article.category_id)  # fmt: skip


# ----------------------------------------------------------------- SQLite ---


def fts5_query(words: Sequence[str], every: bool, prefix: bool) -> str:
    """An FTS5 MATCH expression of quoted ``words``; nothing typed can be an operator."""
    quoted = [f'"{word.replace(chr(34), chr(34) * 2)}"' for word in words]
    if prefix:
        quoted[-1] += "*"
    return (" " if every else " OR ").join(quoted)


def _sqlite(words: Sequence[str], every: bool, prefix: bool) -> Select:
    fts = table(FTS_TABLE, column("rowid"))
    index = literal_column(FTS_TABLE)
    rank = func.bm25(index, 10.0, 1.0)  # lower is better
    excerpt = func.snippet(index, 1, START, STOP, "…", 24)
    match = sql_text(f"{FTS_TABLE} MATCH :match").bindparams(match=fts5_query(words, every, prefix))
    return (
        _base(rank, excerpt)
        .join(fts, fts.c.rowid == Article.id)
        .where(match)
        .order_by(rank, Article.id)
    )


# ------------------------------------------------------------- PostgreSQL ---

_CONFIG = literal_column("'english'::regconfig")
_HEADLINE = f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12, MaxFragments=1"


def tsquery(words: Sequence[str], every: bool, prefix: bool) -> ColumnElement[str]:
    """A ``tsquery`` of ``words`` (all of them or any), the last one as a prefix if asked."""
    whole = words[:-1] if prefix else words
    joiner, both = (" ", "&&") if every else (" or ", "||")
    query = func.websearch_to_tsquery(_CONFIG, joiner.join(whole)) if whole else None
    if prefix:  # a word is letters and digits only: nothing in it is tsquery syntax
        last = func.to_tsquery(_CONFIG, f"{words[-1]}:*")
        query = last if query is None else query.op(both)(last)
    assert query is not None
    return query


def _postgresql(words: Sequence[str], every: bool, prefix: bool) -> Select:
    query = tsquery(words, every, prefix)
    vector = literal_column(f"{Article.__tablename__}.{SEARCH_COLUMN}")
    rank = func.ts_rank_cd(vector, query)
    excerpt = func.ts_headline(_CONFIG, Article.body, query, _HEADLINE)
    return _base(rank, excerpt).where(vector.op("@@")(query)).order_by(rank.desc(), Article.id)


_DIALECTS: dict[str, Callable[[Sequence[str], bool, bool], Select]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


# ---------------------------------------------------------------- excerpts ---


def _hit(row: object) -> Hit:
    id_, title, category, visibility, status, rank, excerpt, body = tuple(row)  # type: ignore[call-overload]
    return Hit(
        id_, title, segments(excerpt or "", body or ""), category, visibility, status, float(rank)
    )


def segments(marked: str, body: str = "") -> tuple[Segment, ...]:
    """An excerpt with :data:`START`/:data:`STOP` marks as plain pieces, Markdown stripped."""
    pieces: list[Segment] = []
    for n, part in enumerate(re.split(f"[{START}{STOP}]", marked)):
        cleaned = _MARKUP.sub(" ", part)
        if cleaned:
            pieces.append(Segment(cleaned, matched=n % 2 == 1))
    if not pieces and body:
        start = _MARKUP.sub(" ", body).strip()
        pieces.append(Segment(start[:160] + ("…" if len(start) > 160 else ""), matched=False))
    return tuple(pieces)
