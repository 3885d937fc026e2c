"""help desk: outbound mail (the outbox of mails to requesters)

Revision ID: helpdesk_0004
Revises: helpdesk_0003
Create Date: 2026-12-04 21:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "helpdesk_0004"
down_revision: str | Sequence[str] | None = "helpdesk_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "helpdesk_mail_outbox"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("to_name", sa.String(length=200), nullable=False),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("message_key", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("subject", sa.String(length=998), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("phase", sa.String(length=16), nullable=True),
        sa.Column("unconfirmed", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'sent', 'failed', 'skipped', 'merged')",
            name=op.f("ck_helpdesk_mail_outbox_state"),
        ),
        sa.CheckConstraint(
            "kind IN ('created', 'status', 'resolved', 'comment', 'notice')",
            name=op.f("ck_helpdesk_mail_outbox_kind"),
        ),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_helpdesk_mail_outbox_attempts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_helpdesk_mail_outbox_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            [f"{TABLE}.id"],
            name=op.f("fk_helpdesk_mail_outbox_merged_into_id_helpdesk_mail_outbox"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_helpdesk_mail_outbox_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_item.id"],
            name=op.f("fk_helpdesk_mail_outbox_work_item_id_work_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_mail_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_helpdesk_mail_outbox_event_id")),
        sa.UniqueConstraint("message_key", name=op.f("uq_helpdesk_mail_outbox_message_key")),
    )
    op.create_index(
        op.f("ix_helpdesk_mail_outbox_state_next_attempt_at"),
        TABLE,
        ["state", "next_attempt_at"],
    )
    op.create_index(op.f("ix_helpdesk_mail_outbox_work_item_id_id"), TABLE, ["work_item_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_helpdesk_mail_outbox_work_item_id_id"), table_name=TABLE)
    op.drop_index(op.f("ix_helpdesk_mail_outbox_state_next_attempt_at"), table_name=TABLE)
    op.drop_table(TABLE)
