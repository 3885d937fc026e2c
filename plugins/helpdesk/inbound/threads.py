"""Which ticket a mail answers, and whether its sender may add to that ticket.

A mail answers a ticket when its In-Reply-To or References name one of the
help desk's own mails (``<tierflow.{work_item_id}.…@…>``, see the outbound
part) or a mail received for the ticket before; failing those, when its
subject carries the ticket's reference in square brackets (``[INC-00042]``).
It is added to that ticket only if the sender may see it (its requester, or
staff who may comment on it), and only while it is not closed; otherwise the
mail is a new ticket. A mail from a staff address never sends the run a signal
(staff reopen tickets on the page): anyone can write a staff address in From.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.comments import MAX_COMMENT, is_staff
from engine.model import WorkItem
from engine.signals import Checked, SignalError, check_signal, item_workflow
from engine.web.access import Viewer, can_view_work_item
from engine.web.auth import load_viewer
from engine.web.item_page import MAX_ID
from plugins.helpdesk.inbound.models import InboundMessage
from plugins.helpdesk.inbound.parse import Mail

OUR_MESSAGE_ID = re.compile(r"^<tierflow\.(\d{1,10})\.")
SUBJECT_REFERENCE = re.compile(r"\[([A-Z]{3}-\d{5,10})\]")


@dataclass(frozen=True)
class Thread:
    """The ticket a mail answers, who answers, and the signal to send its run (if any)."""

    item_id: int
    reference: str
    viewer: Viewer
    signal: Checked | None
    comment: str
    status: str
    """The ticket's status when the mail came (``waiting``: the help desk asked a question)."""
    staff: bool
    """The sender's address is a staff member's."""


@dataclass(frozen=True)
class Followed:
    """A mail that answers a ticket it cannot be added to (closed, or not the sender's)."""

    reference: str
    why: str


def answered_item(db: Session, mail: Mail) -> WorkItem | None:
    """The work item ``mail`` answers, by its references first, then by its subject."""
    for reference in mail.references:
        found = OUR_MESSAGE_ID.match(reference)
        if found and 0 < int(found.group(1)) <= MAX_ID:
            item = db.get(WorkItem, int(found.group(1)))
            if item is not None:
                return item
    if mail.references:
        query = select(InboundMessage.work_item_id).where(
            InboundMessage.message_id.in_(mail.references),
            InboundMessage.work_item_id.is_not(None),
            InboundMessage.reused.is_(False),  # a reused Message-ID leads nowhere
        )
        item_id = db.scalars(query.order_by(InboundMessage.id.desc())).first()
        if item_id is not None:
            return db.get(WorkItem, item_id)
    found = SUBJECT_REFERENCE.search(mail.subject)
    if found:
        return db.scalars(select(WorkItem).filter_by(reference=found.group(1))).first()
    return None


def find_thread(
    db: Session, mail: Mail, person_id: int, text: str, signal: str
) -> Thread | Followed | None:
    """The ticket ``mail`` is added to (with the signal ``signal`` checked for ``text``), a
    ticket it answers but cannot be added to, or ``None`` for a new ticket."""
    item = answered_item(db, mail)
    if item is None:
        return None
    reference = item.reference or f"#{item.id}"
    viewer = load_viewer(db, person_id)
    if not can_view_work_item(viewer, item):
        return Followed(reference, f"names {reference}, which is someone else's request")
    if item.closed_at is not None or item.status in ("closed", "cancelled"):
        return Followed(reference, f"answers {reference}, which is {item.status}")
    limit = _comment_limit(db, item, signal)
    comment = text if len(text) <= limit else text[: limit - 1] + "…"
    staff = is_staff(viewer.roles)
    checked: Checked | None = None
    if not staff:
        try:
            checked = check_signal(db, item, viewer, signal, {"comment": comment})
        except SignalError:  # not offered, not the sender's to send, or not now: a comment only
            checked = None
    return Thread(item.id, reference, viewer, checked, comment, item.status, staff)


def _comment_limit(db: Session, item: WorkItem, signal: str) -> int:
    """The longest comment the reply may carry: the signal form's ``comment`` field's ``max``."""
    workflow = item_workflow(db, item)
    offer = workflow.signals.get(signal) if workflow is not None else None
    form = workflow.forms.get(offer.form) if workflow and offer and offer.form else None
    field = form.field("comment") if form is not None else None
    limit = field.max if field is not None and isinstance(field.max, int) else MAX_COMMENT
    return max(1, min(limit, MAX_COMMENT))
