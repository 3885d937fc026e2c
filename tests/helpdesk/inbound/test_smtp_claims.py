"""One mail, one outcome, one signal: deliveries at the same moment, a delivery that died
holding the mail, and a crash between recording a reply's signal and delivering it.

Real mails over SMTP to the listener; runs on the time-skipping server (signals counted
in the run's history); SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import smtplib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine.contrib import RequestType
from engine.errors import TemporalError
from engine.model import Event, utcnow
from plugins.helpdesk.inbound.models import InboundMessage
from plugins.helpdesk.inbound.parse import parse
from plugins.helpdesk.inbound.process import Inbox
from plugins.helpdesk.inbound.records import Claim, Result, claim
from tests.helpdesk.inbound.conftest import FLOW, Gateway, listening, message
from tests.interpreter.conftest import Harness

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]

QUESTION_FLOW = """
name: mail_question
kind: ticket
start:
  form: mail_form
  channels: [email]
forms:
  mail_form:
    fields:
      - {name: summary, label: Summary, required: true, max: 200}
      - {name: details, type: textarea, label: Details, required: true}
  reply:
    fields:
      - {name: comment, type: textarea, label: Your answer, required: true, max: 5000}
signals:
  requester_replied:
    who: requester
    when: "item.status == 'waiting'"
    form: reply
    comment: true
steps:
  - id: ask
    action: engine.update_work_item
    with: {status: waiting}
  - id: answer
    wait: {signal: requester_replied, timeout: 5d}
    next:
      - {when: timed_out, goto: close}
      - {otherwise: resume}
  - id: resume
    action: engine.update_work_item
    with: {status: open}
  - {id: answered, end: answered}
  - id: close
    action: engine.update_work_item
    with: {status: closed}
  - {id: closed, end: closed}
"""


def signalled(gateway: Gateway, item_id: int) -> int:
    with gateway.read() as db:
        query = select(func.count()).where(Event.work_item_id == item_id,
                                           Event.type == "signalled")  # fmt: skip
        return db.scalar(query) or 0


async def _resolved_ticket(gateway: Gateway):
    await gateway.send(message("Printer jams"))
    [item] = gateway.items()
    return await gateway.status(item.id, "resolved")


async def test_deliveries_at_the_same_moment_make_one_comment_and_one_signal(
    gateway: Gateway,
) -> None:
    item = await _resolved_ticket(gateway)
    reply = message(f"Re: [{item.reference}] Printer jams", "Still jams.")
    answers = await asyncio.gather(*(gateway.send(reply) for _ in range(4)),
                                   return_exceptions=True)  # fmt: skip
    deferred = [answer for answer in answers if answer is not None]
    for answer in deferred:  # the others were told the mail is being taken: try later
        assert isinstance(answer, smtplib.SMTPDataError), answer
        assert (answer.smtp_code, b"in progress" in answer.smtp_error) == (451, True)
        await gateway.send(reply)  # as the sending server does, later
    await gateway.status(item.id, "reopened")
    assert gateway.comments(item.id) == [("Still jams.", True, item.requester_id)]
    assert await gateway.signals(item) == 1
    assert signalled(gateway, item.id) == 1
    record = gateway.record(reply["Message-ID"])
    assert (record.outcome, record.signal_state, record.deliveries) == (
        "reopened", "sent", 4 + len(deferred),
    )  # fmt: skip
    assert record.claim_token is None


async def test_a_mail_held_by_another_delivery_waits_until_its_lease_ends(
    gateway: Gateway,
) -> None:
    mail = message("Screen flickers")
    with gateway.sessions.begin() as db:  # an IMAP poll took it a moment ago, and died
        parsed = parse(mail.as_bytes(), max_attachment_bytes=10**6, max_attachments=5)
        held = claim(db, parsed, "imap", "", utcnow())  # and died
    assert isinstance(held, Claim)
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        await gateway.send(mail)
    assert deferred.value.smtp_code == 451
    assert b"in progress" in deferred.value.smtp_error
    assert gateway.items() == []
    with gateway.sessions.begin() as db:
        db.execute(update(InboundMessage).values(claim_expires=utcnow() - timedelta(seconds=1)))
    await gateway.send(mail)  # the lease has ended: this delivery takes it over
    [record] = gateway.records()
    [item] = gateway.items()
    assert (record.outcome, record.work_item_id, record.deliveries) == ("ticket", item.id, 3)


class TemporalRefusesTheFirstSignal(Inbox):
    """An inbox for which Temporal is unreachable at the moment of the first signal."""

    refused = 0

    async def _deliver(self, held: Claim, *args: Any, **options: Any) -> Result:
        if not TemporalRefusesTheFirstSignal.refused:
            TemporalRefusesTheFirstSignal.refused += 1
            raise TemporalError("Temporal is unreachable")
        return await super()._deliver(held, *args, **options)


async def test_a_signal_recorded_but_not_delivered_is_delivered_by_the_retry(
    harness: Harness,
) -> None:
    harness.deploy(FLOW)
    TemporalRefusesTheFirstSignal.refused = 0
    async with listening(harness, inbox_class=TemporalRefusesTheFirstSignal) as gateway:
        item = await _resolved_ticket(gateway)
        reply = message(f"Re: [{item.reference}] Printer jams", "Still jams.")
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            await gateway.send(reply)
        assert deferred.value.smtp_code == 451
        record = gateway.record(reply["Message-ID"])  # the comment and event came first
        assert (record.outcome, record.signal_state) == ("reopened", "due")
        assert gateway.comments(item.id) == [("Still jams.", True, item.requester_id)]
        assert (signalled(gateway, item.id), await gateway.signals(item)) == (1, 0)
        await gateway.send(reply)  # the retry delivers it
        await gateway.status(item.id, "reopened")
        assert gateway.record(reply["Message-ID"]).signal_state == "sent"
        assert (len(gateway.comments(item.id)), signalled(gateway, item.id)) == (1, 1)
        assert await gateway.signals(item) == 1


async def test_a_signal_delivered_before_a_crash_is_not_delivered_again(
    gateway: Gateway,
) -> None:
    item = await _resolved_ticket(gateway)
    reply = message(f"Re: [{item.reference}] Printer jams", "Still jams.")
    await gateway.send(reply)
    await gateway.status(item.id, "reopened")
    with gateway.sessions.begin() as db:  # as if the process died before noting it was sent
        db.execute(update(InboundMessage).filter_by(message_id=reply["Message-ID"])
                   .values(signal_state="due"))  # fmt: skip
    await gateway.send(reply)  # the run's history has it: not sent again
    record = gateway.record(reply["Message-ID"])
    assert (record.signal_state, record.deliveries) == ("sent", 2)
    assert await gateway.signals(item) == 1
    assert len(gateway.comments(item.id)) == 1


async def test_a_reply_to_a_waiting_ticket_answers_it(harness: Harness) -> None:
    harness.deploy(QUESTION_FLOW)
    types = {"mail_question": RequestType("mail_question", "Question", workflow="mail_question")}
    async with listening(harness, types=types, request_type="mail_question") as gateway:
        await gateway.send(message("VPN drops"))
        [item] = gateway.items()
        await gateway.status(item.id, "waiting")  # the help desk asked a question
        answer = message(f"Re: [{item.reference}] VPN drops", "Every 10 minutes, on Wi-Fi.")
        await gateway.send(answer)
        await gateway.status(item.id, "open")
        record = gateway.record(answer["Message-ID"])
        assert record.outcome == "answered"
        assert record.reason == (
            f"replies to {item.reference}, which waited for the requester's answer: "
            "requester_replied sent"
        )
