"""help desk: satisfaction survey answers (one per ticket)

Revision ID: helpdesk_0006
Revises: helpdesk_0005
Create Date: 2026-12-04 22:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "helpdesk_0006"
down_revision: str | Sequence[str] | None = "helpdesk_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "helpdesk_survey_response"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("respondent_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rating BETWEEN 1 AND 5", name=op.f("ck_helpdesk_survey_response_rating")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["person.id"],
            name=op.f("fk_helpdesk_survey_response_agent_id_person"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["respondent_id"], ["person.id"],
            name=op.f("fk_helpdesk_survey_response_respondent_id_person"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"],
            name=op.f("fk_helpdesk_survey_response_team_id_team"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"], ["work_item.id"],
            name=op.f("fk_helpdesk_survey_response_work_item_id_work_item"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_survey_response")),
        sa.UniqueConstraint("work_item_id", name=op.f("uq_helpdesk_survey_response_work_item_id")),
    )  # fmt: skip
    for column in ("agent_id", "answered_at", "team_id"):
        op.create_index(op.f(f"ix_{TABLE}_{column}"), TABLE, [column], unique=False)


def downgrade() -> None:
    for column in ("agent_id", "answered_at", "team_id"):
        op.drop_index(op.f(f"ix_{TABLE}_{column}"), table_name=TABLE)
    op.drop_table(TABLE)
