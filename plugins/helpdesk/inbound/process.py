"""The one processing core both transports (SMTP, IMAP) feed: a mail in, a record and an outcome.

:meth:`Inbox.receive` first records the mail and claims its record
(:mod:`.records`: once per Message-ID, sender and content; a second delivery
finds the record and changes nothing, or is told to try later while the first
is still at work), then drops it if it is automatic or part of a loop
(:mod:`.loops`), refuses it if its sender cannot be a requester, holds it if
sender authentication is required and missing (:mod:`.auth`), adds it to the
ticket it answers (:mod:`.replies`), or makes a new ticket of it through the
engine's intake with an idempotency key made from the mail, and keeps its
attachments.

Each outcome is written together with what it did, in one transaction guarded
by the claim: a crash or a retry never adds a comment twice. When the database
or Temporal cannot be reached (or the request type is not deployed),
:class:`TryLater` is raised and the record is ``pending`` again: SMTP answers
451 and the sending server retries, IMAP leaves the mail unread for the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from engine.comments import MAX_COMMENT
from engine.errors import TemporalError
from engine.intake import IntakeError, IntakeInvalid, Submission, channel_intake, submit_request
from engine.model import utcnow
from plugins.helpdesk.inbound.auth import Verdict, verdict
from plugins.helpdesk.inbound.body import strip_quoted
from plugins.helpdesk.inbound.loops import loop_reason, too_many
from plugins.helpdesk.inbound.models import InboundMessage
from plugins.helpdesk.inbound.parse import Mail, parse
from plugins.helpdesk.inbound.records import (
    Claim,
    InProgress,
    Result,
    TryLater,
    claim,
    settle,
)
from plugins.helpdesk.inbound.replies import Replies
from plugins.helpdesk.inbound.requesters import requester
from plugins.helpdesk.inbound.subjects import title_from_text, title_of
from plugins.helpdesk.inbound.threads import Followed, Thread, find_thread

NO_TEXT = "(The mail had no text.)"
__all__ = ["Delivery", "InProgress", "Inbox", "Result", "TryLater"]


@dataclass(frozen=True)
class Delivery:
    """A mail as a transport hands it over."""

    raw: bytes
    transport: str
    envelope_sender: str | None = None
    """SMTP's ``MAIL FROM`` (``"<>"``: the null sender of bounces); ``None`` over IMAP."""


class Inbox(Replies):
    """Takes mails: :meth:`receive` is all a transport calls."""

    async def receive(self, delivery: Delivery, *, refuse: str = "") -> Result:
        """Take one mail; :class:`TryLater` when the database or Temporal is down, or
        :class:`InProgress` while another delivery of it is being taken.

        With ``refuse`` (why: a mail too large to read whole, ``delivery`` holding
        its header only), the mail is recorded as refused and nothing else is done.
        """
        mail = parse(
            delivery.raw,
            max_attachment_bytes=self.settings.max_attachment_bytes,
            max_attachments=self.settings.max_attachments,
        )
        judged = verdict(mail.authentication, mail.sender, self.settings.trusted_authserv_id)
        held: Claim | None = None
        try:
            found = await asyncio.to_thread(self._claim, mail, delivery, judged)
            if isinstance(found, Result):
                return found
            held = found
            if held.redeliver:
                return await self._redeliver(held)
            if refuse:
                return await self._finish(held, "refused", refuse)
            return await self._take(mail, delivery, held, judged)
        except InProgress:
            raise
        except DBAPIError as exc:
            if held is not None:
                await asyncio.to_thread(self._release, held, "waiting: the database failed")
            raise TryLater(f"the database cannot be reached: {exc.orig or exc}") from exc
        except (TemporalError, TryLater) as exc:
            if held is not None:
                await asyncio.to_thread(self._release, held, f"waiting: {exc}")
            raise TryLater(str(exc)) from exc
        except Exception:
            if held is not None:  # a fault of ours: the next delivery may try at once
                await asyncio.to_thread(self._release, held, "waiting: an error (see the log)")
            raise

    def _claim(self, mail: Mail, delivery: Delivery, judged: Verdict) -> Claim | Result:
        sender = delivery.envelope_sender or ""
        try:
            with self.sessions.begin() as db:
                found = claim(db, mail, delivery.transport, sender, utcnow())
                if isinstance(found, Claim) and not found.redeliver:
                    record = db.get(InboundMessage, found.record_id)
                    assert record is not None
                    record.authentication = judged.why[:300]
        except IntegrityError:  # recorded at this moment by another delivery: find it now
            return self._claim(mail, delivery, judged)
        if isinstance(found, InProgress):  # raised once its delivery is counted
            raise found
        return found

    async def _take(self, mail: Mail, delivery: Delivery, held: Claim, judged: Verdict) -> Result:
        screened = await asyncio.to_thread(self._screen, mail, delivery, held)
        if isinstance(screened, Result):
            return screened
        person_id = screened
        reply = _with_notes(strip_quoted(mail.text) or NO_TEXT, mail)
        signal = self.settings.reply_signal
        thread = await asyncio.to_thread(self._read, find_thread, mail, person_id, reply, signal)
        if isinstance(thread, Thread) and thread.staff and not judged.authenticated:
            return await self._reply(mail, held, thread, judged)  # an internal note
        if self.settings.require_authenticated_requesters and not judged.authenticated:
            return await self._finish(held, "held", f"held: unauthenticated ({judged.why})")
        if isinstance(thread, Thread):
            return await self._reply(mail, held, thread, judged)
        note = f"This mail {thread.why}." if isinstance(thread, Followed) else ""
        return await self._ticket(mail, held, person_id, note)

    def _screen(self, mail: Mail, delivery: Delivery, held: Claim) -> int | Result:
        """The requester's person id, or the result of a mail dropped or refused."""
        reason = loop_reason(mail, delivery.envelope_sender, self.settings)
        if reason:
            return self._write(held, lambda db: settle(db, held, "dropped", reason))
        if not mail.sender:
            why = "it has no sender address (From)"
            return self._write(held, lambda db: settle(db, held, "refused", why))

        def screen(db: Session) -> int | Result:
            loop = too_many(db, mail, utcnow(), self.settings, excluding=held.record_id)
            if loop:
                return settle(db, held, "dropped", loop)
            found = requester(db, mail, self.settings)
            if isinstance(found, str):
                return settle(db, held, "refused", found)
            return found

        return self._write(held, screen)

    async def _ticket(self, mail: Mail, held: Claim, person_id: int, note: str) -> Result:
        """A new ticket of ``mail`` (``note`` first in its description), and its files."""
        try:
            data = await asyncio.to_thread(self._read, self._intake_data, mail, note)
            submitted = await submit_request(
                self.sessions, self.pm, self.runtime, self.request_types,
                Submission(self.settings.request_type, data, requester_id=person_id,
                           channel="email", key=ticket_key(mail, held.reused)),
            )  # fmt: skip
        except IntakeInvalid as exc:
            return await self._finish(held, "refused", f"it does not fit the request form: {exc}")
        except IntakeError as exc:  # not deployed, or not taking e-mail: an admin can fix it
            raise TryLater(str(exc)) from exc
        why = note.removeprefix("This mail ").rstrip(".") if note else "a new request"
        if held.reused:
            why += "; its Message-ID was reused (another mail had it first)"

        def write(db: Session) -> Result:
            return self._keep(db, mail, held, "ticket", why, item_id=submitted.work_item_id)

        return await asyncio.to_thread(self._write, held, write)

    def _intake_data(self, db: Session, mail: Mail, note: str) -> dict[str, Any]:
        """The intake form's data: the title and the text, each cut to its field's ``max``."""
        intake = channel_intake(db, self.request_types, self.settings.request_type, "email")
        form = intake.form
        title, references = title_of(mail.subject)
        if references and not note:
            note = f"This mail answers {', '.join(references)}."
        text = _with_notes("\n\n".join(filter(None, [note, mail.text])) or NO_TEXT, mail)
        values = {
            self.settings.subject_field: title or title_from_text(mail.text) or "(no subject)",
            self.settings.body_field: text,
        }
        if form is None:
            return values
        data = {}
        for name, value in values.items():
            field = form.field(name)
            if field is not None:
                limit = field.max if isinstance(field.max, int) else MAX_COMMENT
                data[name] = value if len(value) <= limit else value[: limit - 1] + "…"
        return data


def ticket_key(mail: Mail, reused: bool) -> str:
    """The intake's idempotency key of a mail: the same for every delivery of it (and for
    a mail that reused a Message-ID, one of its own)."""
    name = mail.message_id
    if reused:
        name = f"{mail.message_id}|{mail.sender}|{mail.fingerprint}"
    return "mail-" + hashlib.sha256(name.encode()).hexdigest()[:40]


def _with_notes(text: str, mail: Mail) -> str:
    """``text`` and a line naming the files kept and those that were not."""
    notes = []
    if mail.attachments:
        notes.append("Attached: " + ", ".join(file.filename for file in mail.attachments))
    notes.extend(f"Not kept: {why}" for why in mail.skipped)
    return "\n\n".join([text, *notes]) if notes else text


def as_mail(record: Any) -> Mail:
    """The mail of a stored record, as far as the record keeps it (no files)."""
    return replace(
        parse(b"", max_attachment_bytes=1, max_attachments=0),
        message_id=record.message_id, sender=record.sender, sender_name=record.sender_name,
        subject=record.subject, text=record.body_text, fingerprint=record.fingerprint,
    )  # fmt: skip
