"""help desk: knowledge base (articles, ticket links, self-help) and its full-text index

The index is built per dialect and is not part of the models (the model
module names it as built beside them, so the model check leaves it alone):

- SQLite: an FTS5 table with the articles as external content, kept in step
  by three triggers (porter stemming, diacritics folded);
- PostgreSQL: a generated ``tsvector`` column (title weighted A, body B, the
  ``english`` configuration) with a GIN index.

Revision ID: helpdesk_0003
Revises: helpdesk_0002
Create Date: 2026-12-04 21:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "helpdesk_0003"
down_revision: str | Sequence[str] | None = "helpdesk_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = (
    "CREATE VIRTUAL TABLE helpdesk_kb_article_fts USING fts5("
    "title, body, content='helpdesk_kb_article', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER helpdesk_kb_article_fts_insert AFTER INSERT ON helpdesk_kb_article BEGIN "
    "INSERT INTO helpdesk_kb_article_fts(rowid, title, body) "
    "VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER helpdesk_kb_article_fts_delete AFTER DELETE ON helpdesk_kb_article BEGIN "
    "INSERT INTO helpdesk_kb_article_fts(helpdesk_kb_article_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER helpdesk_kb_article_fts_update AFTER UPDATE OF title, body "
    "ON helpdesk_kb_article BEGIN "
    "INSERT INTO helpdesk_kb_article_fts(helpdesk_kb_article_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO helpdesk_kb_article_fts(rowid, title, body) "
    "VALUES (new.id, new.title, new.body); END",
    "INSERT INTO helpdesk_kb_article_fts(helpdesk_kb_article_fts) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS helpdesk_kb_article_fts_update",
    "DROP TRIGGER IF EXISTS helpdesk_kb_article_fts_delete",
    "DROP TRIGGER IF EXISTS helpdesk_kb_article_fts_insert",
    "DROP TABLE IF EXISTS helpdesk_kb_article_fts",
)
POSTGRESQL_UP = (
    "ALTER TABLE helpdesk_kb_article ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'B')) STORED",
    "CREATE INDEX ix_helpdesk_kb_article_search ON helpdesk_kb_article USING gin (search)",
)
POSTGRESQL_DOWN = (
    "DROP INDEX IF EXISTS ix_helpdesk_kb_article_search",
    "ALTER TABLE helpdesk_kb_article DROP COLUMN IF EXISTS search",
)


def upgrade() -> None:
    op.create_table(
        "helpdesk_kb_article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "visibility IN ('internal', 'public')", name=op.f("ck_helpdesk_kb_article_visibility")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'published')", name=op.f("ck_helpdesk_kb_article_status")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["person.id"],
            name=op.f("fk_helpdesk_kb_article_author_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["helpdesk_category.id"],
            name=op.f("fk_helpdesk_kb_article_category_id_helpdesk_category"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["person.id"],
            name=op.f("fk_helpdesk_kb_article_updated_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_kb_article")),
    )
    op.create_index(
        op.f("ix_helpdesk_kb_article_category_id"),
        "helpdesk_kb_article",
        ["category_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_helpdesk_kb_article_status_visibility"),
        "helpdesk_kb_article",
        ["status", "visibility"],
        unique=False,
    )
    op.create_table(
        "helpdesk_kb_article_ticket",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "how IN ('linked', 'drafted', 'self_help')",
            name=op.f("ck_helpdesk_kb_article_ticket_how"),
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpdesk_kb_article.id"],
            name=op.f("fk_helpdesk_kb_article_ticket_article_id_helpdesk_kb_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["linked_by_id"],
            ["person.id"],
            name=op.f("fk_helpdesk_kb_article_ticket_linked_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_item.id"],
            name=op.f("fk_helpdesk_kb_article_ticket_work_item_id_work_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "article_id", "work_item_id", name=op.f("pk_helpdesk_kb_article_ticket")
        ),
    )
    op.create_index(
        op.f("ix_helpdesk_kb_article_ticket_work_item_id"),
        "helpdesk_kb_article_ticket",
        ["work_item_id"],
        unique=False,
    )
    op.create_table(
        "helpdesk_kb_self_help",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("request_type", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpdesk_kb_article.id"],
            name=op.f("fk_helpdesk_kb_self_help_article_id_helpdesk_kb_article"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["person.id"],
            name=op.f("fk_helpdesk_kb_self_help_requester_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_item.id"],
            name=op.f("fk_helpdesk_kb_self_help_work_item_id_work_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_kb_self_help")),
        sa.UniqueConstraint(
            "requester_id", "key", name=op.f("uq_helpdesk_kb_self_help_requester_id_key")
        ),
        sa.UniqueConstraint("work_item_id", name=op.f("uq_helpdesk_kb_self_help_work_item_id")),
    )
    op.create_index(
        op.f("ix_helpdesk_kb_self_help_article_id"),
        "helpdesk_kb_self_help",
        ["article_id"],
        unique=False,
    )
    _run(SQLITE_UP, POSTGRESQL_UP)


def downgrade() -> None:
    _run(SQLITE_DOWN, POSTGRESQL_DOWN)
    op.drop_index(op.f("ix_helpdesk_kb_self_help_article_id"), table_name="helpdesk_kb_self_help")
    op.drop_table("helpdesk_kb_self_help")
    op.drop_index(
        op.f("ix_helpdesk_kb_article_ticket_work_item_id"), table_name="helpdesk_kb_article_ticket"
    )
    op.drop_table("helpdesk_kb_article_ticket")
    op.drop_index(
        op.f("ix_helpdesk_kb_article_status_visibility"), table_name="helpdesk_kb_article"
    )
    op.drop_index(op.f("ix_helpdesk_kb_article_category_id"), table_name="helpdesk_kb_article")
    op.drop_table("helpdesk_kb_article")


def _run(sqlite: Sequence[str], postgresql: Sequence[str]) -> None:
    """The full-text statements of the database migrated (other dialects get no index)."""
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": sqlite, "postgresql": postgresql}.get(dialect, ()):
        op.execute(statement)
