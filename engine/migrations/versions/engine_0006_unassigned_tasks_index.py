"""A partial index on the unassigned tasks of a team queue in task id order (sorting by priority).

The priority lives on the work item, so no index of ``task`` orders by it; the
inbox reads a queue's unassigned tasks one priority at a time in task id order
instead, and this index serves that read without sorting the queue
(engine/web/inbox.py).

Revision ID: engine_0006
Revises: engine_0005
Create Date: 2026-12-04 19:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "engine_0006"
down_revision: str | Sequence[str] | None = "engine_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_task_unassigned_team_id_status_id",
        "task",
        ["team_id", "status", "id"],
        unique=False,
        sqlite_where=sa.text("assignee_id IS NULL"),
        postgresql_where=sa.text("assignee_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_unassigned_team_id_status_id", table_name="task")
