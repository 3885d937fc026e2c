"""Inbound mail's tables: a record of every mail received, and the attachments kept.

Attachments are stored in the database, beside the record, rather than under
the data directory: the mail gateway (``tierflow mail-gateway``) and the web
app may run on different machines that share only the database, the bytes are
written in the same transaction as the ticket's comment (a crash leaves no
orphan file and no dangling row), and backing up the database backs them up.
Their size is bounded by ``max_attachment_bytes``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, false
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from engine.model import Base, CreatedAtMixin, IdMixin
from engine.model.base import utcnow
from engine.model.people import one_of

OUTCOMES = (
    "pending", "taking", "ticket", "comment", "answered", "reopened", "held", "dropped", "refused",
)  # fmt: skip
"""What became of a mail: ``pending`` while it waits to be taken (again: the database or
Temporal was down), ``taking`` while one delivery holds its claim, then one of the others
(``answered``: a reply to a ticket that waited for it; ``held``: not authenticated where
that is required, for an administrator to look at)."""
SETTLED = ("ticket", "comment", "answered", "reopened", "held", "dropped", "refused")

MAX_MESSAGE_ID = 255


class InboundMessage(IdMixin, Base):
    """One mail received (by SMTP or IMAP), once per Message-ID, sender and content, and what
    became of it.

    The same mail delivered again (same Message-ID, sender and :attr:`fingerprint`)
    finds this record; a different mail reusing a Message-ID is a record of its own,
    flagged :attr:`reused`.
    """

    __tablename__ = "helpdesk_inbound_message"
    __table_args__ = (
        CheckConstraint(one_of("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(one_of("transport", ("smtp", "imap")), name="transport"),
        Index("ix_helpdesk_inbound_message_sender_received_at", "sender", "received_at"),
        Unique("message_id", "sender", "fingerprint"),
    )

    message_id: Mapped[str] = mapped_column(String(MAX_MESSAGE_ID), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    transport: Mapped[str] = mapped_column(String(8))
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    size: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(String(500), default="")
    deliveries: Mapped[int] = mapped_column(default=1)
    """How often the mail arrived (a second delivery changes nothing else)."""
    work_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_item.id", ondelete="SET NULL"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    """The HTML body after sanitising (nh3): no scripts, handlers or javascript: links."""
    fingerprint: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """A hash of the content (From, To, Date, Subject, the text, HTML and files): the same
    for the same mail by SMTP and IMAP, whose trace headers differ."""
    reused: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Another mail had this Message-ID first: this one is a mail of its own."""
    claim_token: Mapped[str | None] = mapped_column(String(32))
    """The delivery working on the record now (with :attr:`claim_expires`); others wait."""
    claim_expires: Mapped[datetime | None]
    signal_state: Mapped[str] = mapped_column(String(8), default="", server_default="")
    """A reply's signal: ``due`` once recorded with its comment, ``sent`` once delivered."""
    sender_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    authentication: Mapped[str] = mapped_column(String(300), default="", server_default="")
    """What the trusted ``Authentication-Results`` said of the sender, or why none counted."""
    headers: Mapped[str] = mapped_column(Text, default="", server_default="")
    """A summary of the headers (From, To, Date, Message-ID, ...), one per line."""


class InboundAttachment(IdMixin, CreatedAtMixin, Base):
    """A file that came with a mail, kept for the ticket it went to."""

    __tablename__ = "helpdesk_inbound_attachment"
    __table_args__ = (Unique("message_id", "position"),)

    message_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_inbound_message.id", ondelete="CASCADE")
    )
    work_item_id: Mapped[int] = mapped_column(
        ForeignKey("work_item.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary)
