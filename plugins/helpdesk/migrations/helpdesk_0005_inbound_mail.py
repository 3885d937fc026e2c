"""help desk: inbound mail (the record of every mail received, and the attachments kept)

Revision ID: helpdesk_0005
Revises: helpdesk_0004
Create Date: 2026-12-04 21:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "helpdesk_0005"
down_revision: str | Sequence[str] | None = "helpdesk_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('pending', 'ticket', 'comment', 'reopened', 'dropped', 'refused')",
            name=op.f("ck_helpdesk_inbound_message_outcome"),
        ),
        sa.CheckConstraint(
            "transport IN ('smtp', 'imap')", name=op.f("ck_helpdesk_inbound_message_transport")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_helpdesk_inbound_message_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_item.id"],
            name=op.f("fk_helpdesk_inbound_message_work_item_id_work_item"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_inbound_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_helpdesk_inbound_message_message_id")),
    )
    op.create_index(
        "ix_helpdesk_inbound_message_sender_received_at",
        "helpdesk_inbound_message",
        ["sender", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_helpdesk_inbound_message_work_item_id"),
        "helpdesk_inbound_message",
        ["work_item_id"],
        unique=False,
    )
    op.create_table(
        "helpdesk_inbound_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["helpdesk_inbound_message.id"],
            name=op.f("fk_helpdesk_inbound_attachment_message_id_helpdesk_inbound_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_item.id"],
            name=op.f("fk_helpdesk_inbound_attachment_work_item_id_work_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_inbound_attachment")),
        sa.UniqueConstraint(
            "message_id",
            "position",
            name=op.f("uq_helpdesk_inbound_attachment_message_id_position"),
        ),
    )
    op.create_index(
        op.f("ix_helpdesk_inbound_attachment_work_item_id"),
        "helpdesk_inbound_attachment",
        ["work_item_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_helpdesk_inbound_attachment_work_item_id"),
        table_name="helpdesk_inbound_attachment",
    )
    op.drop_table("helpdesk_inbound_attachment")
    op.drop_index(
        op.f("ix_helpdesk_inbound_message_work_item_id"), table_name="helpdesk_inbound_message"
    )
    op.drop_index(
        "ix_helpdesk_inbound_message_sender_received_at", table_name="helpdesk_inbound_message"
    )
    op.drop_table("helpdesk_inbound_message")
