"""The one processing core both transports (SMTP, IMAP) feed: a mail in, a record and an outcome.

:meth:`Inbox.receive` first records the mail (once per Message-ID: a second
delivery, by either transport, finds the record and changes nothing), then
drops it if it is automatic (:mod:`.loops`) or its sender sent too many this
hour, refuses it if its sender cannot be a requester, adds it to the ticket it
answers as a public comment (sending the run the reply signal, which reopens
a resolved ticket), or makes a new ticket of it through the engine's intake
with an idempotency key made from the Message-ID, and keeps its attachments.

Each outcome is written together with what it did, in one transaction, and
only if the record is still ``pending``: a crash or a retry never adds a
comment twice. When the database or Temporal cannot be reached (or the request
type is not deployed), :class:`TryLater` is raised with the record left
``pending``: SMTP answers 451 and the sending server retries, IMAP leaves the
mail unread for the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.comments import MAX_COMMENT, post_comment
from engine.contrib import RequestType
from engine.errors import TemporalError, TierflowError
from engine.intake import IntakeError, IntakeInvalid, Submission, channel_intake, submit_request
from engine.model import utcnow
from engine.plugins import PluginManager
from engine.runtime.client import Runtime
from engine.signals import SignalError, deliver, record_signal
from plugins.helpdesk.inbound.body import strip_quoted
from plugins.helpdesk.inbound.loops import loop_reason, too_many
from plugins.helpdesk.inbound.models import InboundAttachment, InboundMessage
from plugins.helpdesk.inbound.parse import Mail, parse
from plugins.helpdesk.inbound.requesters import requester
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.inbound.threads import Followed, Thread, find_thread

log = logging.getLogger("tierflow.helpdesk.inbound")

NO_TEXT = "(The mail had no text.)"


class TryLater(TierflowError):
    """The mail cannot be taken now; nothing is lost, it is taken when it comes again."""


@dataclass(frozen=True)
class Delivery:
    """A mail as a transport hands it over."""

    raw: bytes
    transport: str
    envelope_sender: str | None = None
    """SMTP's ``MAIL FROM`` (``"<>"``: the null sender of bounces); ``None`` over IMAP."""


@dataclass(frozen=True)
class Result:
    """What became of a mail: its record's outcome and reason, and the ticket it went to."""

    outcome: str
    reason: str
    record_id: int
    work_item_id: int | None = None
    duplicate: bool = False


class _Settled(Exception):
    """The record was no longer pending (a concurrent delivery finished it): roll back."""


class Inbox:
    """Takes mails: :meth:`receive` is all a transport calls."""

    def __init__(
        self,
        settings: InboundSettings,
        pm: PluginManager,
        sessions: sessionmaker[Session],
        runtime: Runtime,
        request_types: dict[str, RequestType],
    ) -> None:
        self.settings = settings
        self.pm = pm
        self.sessions = sessions
        self.runtime = runtime
        self.request_types = request_types

    async def receive(self, delivery: Delivery, *, refuse: str = "") -> Result:
        """Take one mail; :class:`TryLater` when the database or Temporal is down.

        With ``refuse`` (why: a mail too large to read whole, ``delivery`` holding
        its header only), the mail is recorded as refused and nothing else is done.
        """
        mail = parse(
            delivery.raw,
            max_attachment_bytes=self.settings.max_attachment_bytes,
            max_attachments=self.settings.max_attachments,
        )
        record: Result | None = None
        try:
            record = await asyncio.to_thread(self._claim, mail, delivery)
            if record.outcome != "pending":
                return record
            if refuse:
                return await asyncio.to_thread(self._finish, record.record_id, "refused", refuse)
            return await self._take(mail, delivery, record.record_id)
        except DBAPIError as exc:
            raise TryLater(f"the database cannot be reached: {exc.orig or exc}") from exc
        except (TemporalError, TryLater) as exc:
            if record is not None:
                await asyncio.to_thread(self._note, record.record_id, f"waiting: {exc}")
            raise TryLater(str(exc)) from exc

    # ------------------------------------------------------------------ steps ---

    def _claim(self, mail: Mail, delivery: Delivery) -> Result:
        """The mail's record: a new ``pending`` one, or the one an earlier delivery made."""
        try:
            with self.sessions.begin() as db:
                found = db.scalars(
                    select(InboundMessage).filter_by(message_id=mail.message_id)
                ).first()
                if found is not None:  # counted in SQL: concurrent deliveries all count
                    db.execute(
                        update(InboundMessage)
                        .where(InboundMessage.id == found.id)
                        .values(deliveries=InboundMessage.deliveries + 1)
                    )
                    return _result(found, duplicate=found.outcome != "pending")
                row = InboundMessage(
                    message_id=mail.message_id, transport=delivery.transport,
                    sender=mail.sender or (delivery.envelope_sender or "")[:320],
                    subject=mail.subject, size=mail.size, outcome="pending",
                    body_text=mail.text[:MAX_COMMENT * 5], body_html=mail.html[:MAX_COMMENT * 10],
                )  # fmt: skip
                db.add(row)
                db.flush()
                return _result(row)
        except IntegrityError:  # the same mail, recorded at this moment by another delivery
            return self._claim(mail, delivery)  # finds that record now

    async def _take(self, mail: Mail, delivery: Delivery, record_id: int) -> Result:
        screened = await asyncio.to_thread(self._screen, mail, delivery, record_id)
        if isinstance(screened, Result):
            return screened
        person_id = screened
        text = strip_quoted(mail.text) or NO_TEXT
        reply = _with_notes(text, mail)
        signal = self.settings.reply_signal
        thread = await asyncio.to_thread(self._read, find_thread, mail, person_id, reply, signal)
        if isinstance(thread, Thread):
            return await self._reply(mail, record_id, thread)
        note = f"This mail {thread.why}." if isinstance(thread, Followed) else ""
        return await self._ticket(mail, record_id, person_id, note)

    def _screen(self, mail: Mail, delivery: Delivery, record_id: int) -> int | Result:
        """The requester's person id, or the result of a mail dropped or refused."""
        reason = loop_reason(mail, delivery.envelope_sender, self.settings)
        if reason:
            return self._finish(record_id, "dropped", reason)
        if not mail.sender:
            return self._finish(record_id, "refused", "it has no sender address (From)")

        def screen(db: Session) -> int | Result:
            limit = self.settings.per_sender_per_hour
            if too_many(db, mail.sender, utcnow(), limit, excluding=record_id):
                reason = f"{mail.sender} sent more than {limit} mails within an hour (a loop?)"
                return self._settle(db, record_id, "dropped", reason)
            found = requester(db, mail, self.settings)
            if isinstance(found, str):
                return self._settle(db, record_id, "refused", found)
            return found

        return self._write(record_id, screen)

    async def _reply(self, mail: Mail, record_id: int, thread: Thread) -> Result:
        signal = thread.signal
        if signal is not None:
            try:
                await deliver(self.runtime, signal)
            except SignalError:  # the run ended meanwhile: a comment only
                signal = None

        def write(db: Session) -> Result:
            if signal is not None:
                record_signal(db, self.pm, signal, thread.viewer)
            else:
                post_comment(
                    db, self.pm, thread.item_id, body=thread.comment, public=True,
                    author_id=thread.viewer.person_id, staff=False, visible=lambda _: True,
                )  # fmt: skip
            outcome = "reopened" if signal is not None else "comment"
            did = f"{'reopened' if signal else 'added to'} {thread.reference}"
            return self._keep(
                db, mail, record_id, outcome=outcome, reason=did, item_id=thread.item_id
            )

        return await asyncio.to_thread(self._write, record_id, write)

    async def _ticket(self, mail: Mail, record_id: int, person_id: int, note: str) -> Result:
        try:
            data = await asyncio.to_thread(self._read, self._intake_data, mail, note)
            submitted = await submit_request(
                self.sessions, self.pm, self.runtime, self.request_types,
                Submission(self.settings.request_type, data, requester_id=person_id,
                           channel="email", key=_key(mail.message_id)),
            )  # fmt: skip
        except IntakeInvalid as exc:
            return await asyncio.to_thread(
                self._finish, record_id, "refused", f"it does not fit the request form: {exc}"
            )
        except IntakeError as exc:  # not deployed, or not taking e-mail: an admin can fix it
            raise TryLater(str(exc)) from exc

        def write(db: Session) -> Result:
            did = f"created {submitted.reference}"
            return self._keep(
                db, mail, record_id, outcome="ticket", reason=did, item_id=submitted.work_item_id
            )

        return await asyncio.to_thread(self._write, record_id, write)

    def _intake_data(self, db: Session, mail: Mail, note: str) -> dict[str, Any]:
        """The intake form's data: the subject and the text, each cut to its field's ``max``."""
        intake = channel_intake(db, self.request_types, self.settings.request_type, "email")
        form = intake.form
        text = _with_notes("\n\n".join(filter(None, [note, mail.text])) or NO_TEXT, mail)
        values = {
            self.settings.subject_field: mail.subject or "(no subject)",
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

    # ------------------------------------------------------------- database ---

    def _read(self, function: Any, *args: Any) -> Any:
        """``function(db, *args)`` in a session of its own."""
        with self.sessions() as db:
            return function(db, *args)

    def _write(self, record_id: int, change: Any) -> Any:
        """``change(db)`` in one transaction; the record as it is if it was settled meanwhile."""
        try:
            with self.sessions.begin() as db:
                return change(db)
        except _Settled:
            with self.sessions() as db:
                found = db.get(InboundMessage, record_id)
                assert found is not None
                return _result(found, duplicate=True)

    def _keep(
        self, db: Session, mail: Mail, record_id: int, *, outcome: str, reason: str, item_id: int
    ) -> Result:
        """Settle the record as ``outcome`` and store the mail's files on item ``item_id``."""
        result = self._settle(db, record_id, outcome, reason, item_id)
        for position, file in enumerate(mail.attachments, start=1):
            db.add(
                InboundAttachment(
                    message_id=record_id, work_item_id=item_id, position=position,
                    filename=file.filename, content_type=file.content_type,
                    size=len(file.content), content=file.content,
                )
            )  # fmt: skip
        return result

    def _finish(self, record_id: int, outcome: str, reason: str) -> Result:
        return self._write(record_id, lambda db: self._settle(db, record_id, outcome, reason))

    def _settle(
        self, db: Session, record_id: int, outcome: str, reason: str, item_id: int | None = None
    ) -> Result:
        done = db.execute(
            update(InboundMessage)
            .where(InboundMessage.id == record_id, InboundMessage.outcome == "pending")
            .values(outcome=outcome, reason=reason[:500], work_item_id=item_id)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise _Settled
        log.info("inbound mail %s: %s (%s)", record_id, outcome, reason)
        return Result(outcome, reason[:500], record_id, item_id)

    def _note(self, record_id: int, reason: str) -> None:
        """Say on a pending record why it waits (best effort: the database may be the cause)."""
        try:
            with self.sessions.begin() as db:
                db.execute(
                    update(InboundMessage)
                    .where(InboundMessage.id == record_id, InboundMessage.outcome == "pending")
                    .values(reason=reason[:500])
                )
        except DBAPIError as exc:
            log.warning("inbound mail %s waits (%s); cannot note why: %s", record_id, reason, exc)


def _result(row: InboundMessage, *, duplicate: bool = False) -> Result:
    return Result(row.outcome, row.reason, row.id, row.work_item_id, duplicate)


def _key(message_id: str) -> str:
    """The intake's idempotency key of a mail: the same for every delivery of it."""
    return "mail-" + hashlib.sha256(message_id.encode()).hexdigest()[:40]


def _with_notes(text: str, mail: Mail) -> str:
    """``text`` and a line naming the files kept and those that were not."""
    notes = []
    if mail.attachments:
        notes.append("Attached: " + ", ".join(file.filename for file in mail.attachments))
    notes.extend(f"Not kept: {why}" for why in mail.skipped)
    return "\n\n".join([text, *notes]) if notes else text
