"""Workflow definitions record who deployed them.

Revision ID: engine_0002
Revises: engine_0001
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "engine_0002"
down_revision: str | Sequence[str] | None = "engine_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_definition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deployed_by", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_definition", schema=None) as batch_op:
        batch_op.drop_column("deployed_by")
