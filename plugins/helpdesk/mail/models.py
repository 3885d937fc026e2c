"""The outbox: one row per requester-facing update, written in the update's own transaction.

A row is keyed by the event it announces (``event_id`` is unique), so an
event recorded once gives one row, whatever retries happen around it. Its
``message_key`` (the local part of the Message-ID, ``tierflow.<item>.<token>``)
is chosen when the row is written; the rendered message is stored at the first
attempt and every later attempt sends exactly those bytes.

States: ``queued`` (waiting for its time), ``sending`` (claimed by a worker
until ``lease_until``), ``sent``, ``failed`` (gave up; an admin may retry),
``skipped`` (nobody to send it to: ``note`` says why) and ``merged`` (a
workflow's notice that joined another row's mail, ``merged_into_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.model import Base, IdMixin, TimestampMixin, WorkItem, utcnow
from engine.model.people import one_of

STATES = ("queued", "sending", "sent", "failed", "skipped", "merged")
KINDS = ("created", "status", "resolved", "comment", "notice")
PHASES = ("envelope", "data")
"""How far the last attempt got: ``data`` means the message itself may have been delivered."""


class OutboxMail(IdMixin, TimestampMixin, Base):
    """One mail to a requester about one update of a work item (see the module docstring)."""

    __tablename__ = "helpdesk_mail_outbox"
    __table_args__ = (
        CheckConstraint(one_of("state", STATES), name="state"),
        CheckConstraint(one_of("kind", KINDS), name="kind"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "work_item_id", "id"),
    )

    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    held: Mapped[bool] = mapped_column(default=False)
    """Waits ``hold_seconds`` after ``created_at`` so that a workflow's notice may join it."""
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(320), default="")
    to_name: Mapped[str] = mapped_column(String(200), default="")
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the templates print, as it was when the update happened."""
    message_key: Mapped[str] = mapped_column(String(100), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(998))
    message: Mapped[str | None] = mapped_column(Text)
    """The rendered message (RFC 5322 text), stored at the first attempt, resent as is."""
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_mail_outbox.id", ondelete="SET NULL")
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(32))
    """The claiming worker's token: only its holder may record the outcome."""
    lease_until: Mapped[datetime | None]
    phase: Mapped[str | None] = mapped_column(String(16))
    unconfirmed: Mapped[int] = mapped_column(default=0)
    """Attempts whose outcome nobody learnt after the message was handed over (resent)."""
    last_error: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]

    work_item: Mapped[WorkItem] = relationship()

    def __repr__(self) -> str:
        return f"<OutboxMail {self.id} {self.kind} item={self.work_item_id} {self.state}>"
