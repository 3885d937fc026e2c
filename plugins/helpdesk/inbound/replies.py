"""A mail that answers a ticket: a comment, an internal note, or the run's reply signal.

Who may do what by mail:

- a **staff address** whose mail is not authenticated (see :mod:`.auth`) only
  ever makes an *internal* comment, never mailed to the requester: anyone can
  write a staff member's address in From, and a public comment by them would be
  mailed on to the requester by the help desk itself;
- mail from a staff address never sends the run a signal (staff reopen on the page);
- the requester's reply, when the run offers ``reply_signal`` now, is recorded
  first — its ``signalled`` event (keyed by the mail's record) and comment, with
  the record settled and the signal ``due`` — and delivered after
  (:mod:`.signal_once`); a later delivery of the same mail delivers a signal
  still due, unless the run's history shows it arrived.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.comments import post_comment
from engine.events import record_event
from engine.model import Event, WorkItem
from engine.signals import SignalError
from plugins.helpdesk.inbound.auth import Verdict
from plugins.helpdesk.inbound.models import InboundMessage
from plugins.helpdesk.inbound.parse import Mail
from plugins.helpdesk.inbound.records import Claim, Result, result, signal_done
from plugins.helpdesk.inbound.signal_once import deliver_once, received
from plugins.helpdesk.inbound.store import Store
from plugins.helpdesk.inbound.threads import Thread

INTERNAL_NOTE = (
    "(Kept internal: this mail's From is {sender}, a staff address, and the mail is not "
    "authenticated, so it may be forged. It was not sent to the requester.)"
)


def signal_key(record_id: int) -> str:
    """The idempotency key of the ``signalled`` event mail ``record_id`` records."""
    return f"inbound-mail/{record_id}/signal"


class Replies(Store):
    """The reply half of the inbox."""

    async def _reply(self, mail: Mail, held: Claim, thread: Thread, verdict: Verdict) -> Result:
        ref = thread.reference
        if thread.staff and not verdict.authenticated:
            why = (
                f"{mail.sender} is a staff address and the mail is not authenticated "
                f"({verdict.why}): kept internal on {ref}, not sent to the requester"
            )
            body = f"{thread.comment}\n\n{INTERNAL_NOTE.format(sender=mail.sender)}"
            return await self._comment(mail, held, thread, body, public=False, why=why)
        checked = thread.signal
        if checked is None:
            why = f"replies to {ref} ({thread.status}: no signal to send now)"
            return await self._comment(mail, held, thread, thread.comment, public=True, why=why)
        waited = thread.status == "waiting"
        outcome = "answered" if waited else "reopened"
        was = "waited for the requester's answer" if waited else f"was {thread.status}"
        why = f"replies to {ref}, which {was}: {checked.name} sent"

        def write(db: Session) -> Result:
            item = db.get(WorkItem, thread.item_id)
            assert item is not None
            record_event(
                db, self.pm, work_item_id=item.id, type="signalled",
                data={"signal": checked.name, "data": checked.data},
                actor_id=thread.viewer.person_id, team_id=item.current_team_id,
                key=signal_key(held.record_id),
            )  # fmt: skip
            if checked.comment:
                post_comment(
                    db, self.pm, item.id, body=checked.comment, public=True,
                    author_id=thread.viewer.person_id, staff=False, visible=lambda _: True,
                )  # fmt: skip
            return self._keep(db, mail, held, outcome, why, item_id=item.id, signal_due=True)

        done = await asyncio.to_thread(self._write, held, write)
        if done.duplicate:
            return done
        return await self._deliver(held, checked.workflow_id, checked.name, checked.data)

    async def _comment(
        self, mail: Mail, held: Claim, thread: Thread, body: str, *, public: bool, why: str
    ) -> Result:
        def write(db: Session) -> Result:
            post_comment(
                db, self.pm, thread.item_id, body=body, public=public,
                author_id=thread.viewer.person_id, staff=thread.staff or not public,
                visible=lambda _: True,
            )  # fmt: skip
            return self._keep(db, mail, held, "comment", why, item_id=thread.item_id)

        return await asyncio.to_thread(self._write, held, write)

    async def _deliver(
        self, held: Claim, workflow_id: str, name: str, data: dict[str, Any], *, check: bool = False
    ) -> Result:
        """Deliver the recorded signal (unless ``check`` finds the run has it), then note it."""
        values: dict[str, object] = {}
        try:
            if not (check and await received(self.runtime, workflow_id, held.record_id)):
                await deliver_once(self.runtime, workflow_id, name, data, held.record_id)
            state = "sent"
        except SignalError:  # the run ended meanwhile: the comment stays, nothing reopens
            state = "ended"
            values = {"outcome": "comment", "reason": "the ticket's run had ended: a comment only"}

        def write(db: Session) -> Result:
            signal_done(db, held, state, **values)
            found = db.get(InboundMessage, held.record_id)
            assert found is not None
            return result(found, duplicate=check)

        return await asyncio.to_thread(self._write, held, write)

    async def _redeliver(self, held: Claim) -> Result:
        """A later delivery of a reply whose signal is still due: deliver it if not arrived."""
        due = await asyncio.to_thread(self._read, _due_signal, held.record_id)
        if due is None:  # its ticket is gone: nothing to signal
            return await self._deliver_nothing(held)
        workflow_id, name, data = due
        return await self._deliver(held, workflow_id, name, data, check=True)

    async def _deliver_nothing(self, held: Claim) -> Result:
        def write(db: Session) -> Result:
            signal_done(db, held, "ended")
            found = db.get(InboundMessage, held.record_id)
            assert found is not None
            return result(found, duplicate=True)

        return await asyncio.to_thread(self._write, held, write)


def _due_signal(db: Session, record_id: int) -> tuple[str, str, dict[str, Any]] | None:
    """(run, signal, data) of the signal mail ``record_id`` recorded, if its item runs."""
    event = db.scalars(select(Event).filter_by(idempotency_key=signal_key(record_id))).first()
    item = db.get(WorkItem, event.work_item_id) if event is not None else None
    if event is None or item is None or not item.workflow_id:
        return None
    return item.workflow_id, str(event.data["signal"]), dict(event.data.get("data") or {})
