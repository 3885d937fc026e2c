"""help desk: inbound mail (placeholder until its tables land)

Revision ID: helpdesk_0005
Revises: helpdesk_0004
Create Date: 2026-12-04 21:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "helpdesk_0005"
down_revision: str | Sequence[str] | None = "helpdesk_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
