"""An administrator's second look: a mail that was dropped, refused or held becomes a ticket.

:func:`make_ticket` makes the ticket the sender's mail would have made (the
sender as its requester, made one if unknown; the subject as its title, the
text as its description, with a line saying who made it and why the mail had
not), through the same intake and idempotency key as the mail itself, and
settles the record as ``ticket``. A second call answers the same ticket. Files
of such a mail were not kept (files are kept with a ticket only).
"""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy.orm import Session

from engine.model import utcnow
from plugins.helpdesk.inbound.models import InboundMessage
from plugins.helpdesk.inbound.parse import Mail
from plugins.helpdesk.inbound.process import Inbox, as_mail
from plugins.helpdesk.inbound.records import Claim, Result, result, take
from plugins.helpdesk.inbound.requesters import requester

REMAKEABLE = ("dropped", "refused", "held")


class NotRemakeable(Exception):
    """The mail cannot be made a ticket (why, for the page: 404 or 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def make_ticket(inbox: Inbox, record_id: int, by: str) -> Result:
    """The ticket of mail ``record_id`` (made now, or made before). Raises
    :class:`NotRemakeable`; :class:`~.records.TryLater` while Temporal is down."""
    token = secrets.token_hex(16)
    found = await asyncio.to_thread(_claim, inbox, record_id, token)
    if isinstance(found, Result):
        return found
    record, held = found
    mail = as_mail(record)
    try:
        person = await asyncio.to_thread(inbox._read, _requester, inbox, mail)
        if isinstance(person, str):
            raise NotRemakeable(409, f"No ticket can be made for {mail.sender}: {person}.")
        note = f"{by} made this ticket of a mail that was {record.outcome}: {record.reason}."
        return await inbox._ticket(mail, held, person, note)
    finally:
        await asyncio.to_thread(inbox._release, held, record.reason)


def _claim(inbox: Inbox, record_id: int, token: str) -> tuple[InboundMessage, Claim] | Result:
    with inbox.sessions.begin() as db:
        record = db.get(InboundMessage, record_id)
        if record is None:
            raise NotRemakeable(404, f"There is no mail {record_id}.")
        if record.outcome == "ticket":
            return result(record, duplicate=True)
        if record.outcome not in REMAKEABLE:
            raise NotRemakeable(409, f"Mail {record_id} was not dropped, refused or held.")
        condition = InboundMessage.outcome.in_(REMAKEABLE)
        if not take(db, record_id, token, utcnow(), condition):
            raise NotRemakeable(409, f"Mail {record_id} is being taken now; try again.")
        db.refresh(record)
        db.expunge(record)
        return record, Claim(record_id, token, reused=record.reused)


def _requester(db: Session, inbox: Inbox, mail: Mail) -> int | str:
    """The sender's person (made if unknown, as for their mail), or why there is none."""
    found = requester(db, mail, inbox.settings)
    if not isinstance(found, str):
        db.commit()
    return found
