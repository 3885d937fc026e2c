"""Workflow definitions keep the shared forms they use, as deployed.

Revision ID: engine_0003
Revises: engine_0002
Create Date: 2026-11-23 12:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "engine_0003"
down_revision: str | Sequence[str] | None = "engine_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_definition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shared_forms", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("workflow_definition", schema=None) as batch_op:
        batch_op.drop_column("shared_forms")
