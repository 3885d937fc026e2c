"""The role a task is addressed to (``task: {role: manager}``): ``task.role``.

A task for a role has neither team nor person, so without the role nobody but
an administrator could find or work it in the web app. Open tasks made before
this column are given the role their ``task_opened`` event recorded.

Revision ID: engine_0007
Revises: engine_0006
Create Date: 2026-12-04 23:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "engine_0007"
down_revision: str | Sequence[str] | None = "engine_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("role", sa.String(length=32), nullable=True))
    task = sa.table(
        "task",
        sa.column("id", sa.Integer),
        sa.column("role", sa.String),
        sa.column("team_id", sa.Integer),
        sa.column("assignee_id", sa.Integer),
        sa.column("status", sa.String),
    )
    event = sa.table("event", sa.column("type", sa.String), sa.column("data", sa.JSON))
    connection = op.get_bind()
    open_for_nobody = connection.execute(
        sa.select(task.c.id).where(
            task.c.status == "open", task.c.team_id.is_(None), task.c.assignee_id.is_(None)
        )
    ).scalars()
    wanted = set(open_for_nobody)
    if not wanted:
        return
    for data in connection.execute(
        sa.select(event.c.data).where(event.c.type == "task_opened")
    ).scalars():
        if isinstance(data, dict) and data.get("task") in wanted and data.get("role"):
            connection.execute(
                task.update().where(task.c.id == data["task"]).values(role=str(data["role"])[:32])
            )


def downgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.drop_column("role")
