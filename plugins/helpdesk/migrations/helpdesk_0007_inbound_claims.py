"""help desk: inbound mail claims (lease on a record while one delivery works on it)

Revision ID: helpdesk_0007
Revises: helpdesk_0006
Create Date: 2026-12-04 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "helpdesk_0007"
down_revision: str | Sequence[str] | None = "helpdesk_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet: the columns follow in the next commit of this revision."""


def downgrade() -> None:
    """Nothing to undo."""
