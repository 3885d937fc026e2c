"""Failed sign-ins, counted by the sign-in throttle per e-mail and per address.

Revision ID: engine_0005
Revises: engine_0004
Create Date: 2026-12-04 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "engine_0005"
down_revision: str | Sequence[str] | None = "engine_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failure")),
    )
    op.create_index(
        op.f("ix_sign_in_failure_address_failed_at"),
        "sign_in_failure",
        ["address", "failed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sign_in_failure_email_failed_at"),
        "sign_in_failure",
        ["email", "failed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sign_in_failure_failed_at"), "sign_in_failure", ["failed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_failure_failed_at"), table_name="sign_in_failure")
    op.drop_index(op.f("ix_sign_in_failure_email_failed_at"), table_name="sign_in_failure")
    op.drop_index(op.f("ix_sign_in_failure_address_failed_at"), table_name="sign_in_failure")
    op.drop_table("sign_in_failure")
