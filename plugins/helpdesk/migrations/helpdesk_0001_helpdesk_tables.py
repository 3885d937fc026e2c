"""Help desk tables: request categories.

Revision ID: helpdesk_0001
Revises:
Create Date: 2026-11-23 11:19:22.300781
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "helpdesk_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("helpdesk",)
depends_on: str | Sequence[str] | None = "engine_0001"


def upgrade() -> None:
    op.create_table(
        "helpdesk_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("default_team_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["default_team_id"],
            ["team.id"],
            name=op.f("fk_helpdesk_category_default_team_id_team"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["helpdesk_category.id"],
            name=op.f("fk_helpdesk_category_parent_id_helpdesk_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_category")),
        sa.UniqueConstraint("slug", name=op.f("uq_helpdesk_category_slug")),
    )
    op.create_index(
        op.f("ix_helpdesk_category_parent_id"), "helpdesk_category", ["parent_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_helpdesk_category_parent_id"), table_name="helpdesk_category")
    op.drop_table("helpdesk_category")
