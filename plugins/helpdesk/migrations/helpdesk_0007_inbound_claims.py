"""help desk: inbound mail claims, Message-ID reuse, sender authentication, held mail

A record is claimed by one delivery at a time (``taking`` with a lease token
and expiry); a reply's signal is recorded before it is delivered
(``signal_state``); the dedupe key is Message-ID + sender + a fingerprint of
the content (a reused Message-ID is a record of its own, ``reused``); the
outcome may be ``answered`` or ``held``; the record keeps the sender's name,
a summary of the headers and what the authentication said, for the admin page.

Revision ID: helpdesk_0007
Revises: helpdesk_0006
Create Date: 2026-12-04 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "helpdesk_0007"
down_revision: str | Sequence[str] | None = "helpdesk_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "helpdesk_inbound_message"
OLD = "('pending', 'ticket', 'comment', 'reopened', 'dropped', 'refused')"
NEW = (
    "('pending', 'taking', 'ticket', 'comment', 'answered', 'reopened', 'held', 'dropped', "
    "'refused')"
)


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fingerprint", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("reused", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claim_expires", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("signal_state", sa.String(length=8), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("sender_name", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("authentication", sa.String(length=300), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("headers", sa.Text(), server_default="", nullable=False))
        batch_op.drop_constraint(op.f("uq_helpdesk_inbound_message_message_id"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_helpdesk_inbound_message_message_id_sender_fingerprint"),
            ["message_id", "sender", "fingerprint"],
        )
        batch_op.drop_constraint(op.f("ck_helpdesk_inbound_message_outcome"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_helpdesk_inbound_message_outcome"), f"outcome IN {NEW}"
        )
    op.create_index(op.f("ix_helpdesk_inbound_message_message_id"), TABLE, ["message_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_helpdesk_inbound_message_message_id"), table_name=TABLE)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_helpdesk_inbound_message_outcome"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_helpdesk_inbound_message_outcome"), f"outcome IN {OLD}"
        )
        batch_op.drop_constraint(
            op.f("uq_helpdesk_inbound_message_message_id_sender_fingerprint"), type_="unique"
        )
        batch_op.create_unique_constraint(
            op.f("uq_helpdesk_inbound_message_message_id"), ["message_id"]
        )
        for column in ("headers", "authentication", "sender_name", "signal_state"):
            batch_op.drop_column(column)
        for column in ("claim_expires", "claim_token", "reused", "fingerprint"):
            batch_op.drop_column(column)
