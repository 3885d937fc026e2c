"""Real mails sent over SMTP to the real listener become tickets and comments.

Each test sends with :mod:`smtplib` to the listener on a loopback port; the
runs are on Temporal's time-skipping server, the database is SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import smtplib

import pytest
from sqlalchemy import select

from engine.contrib import RequestType
from engine.model import Person
from tests.helpdesk.inbound.conftest import DESK, Gateway, message

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]


async def test_a_new_mail_makes_a_ticket_for_a_new_requester(gateway: Gateway) -> None:
    mail = message("Printer on floor 3 jams", "It jams on every page.\n\nNora")
    await gateway.send(mail)
    [item] = gateway.items()
    assert (item.title, item.channel, item.type) == (
        "Printer on floor 3 jams",
        "email",
        "mail_ticket",
    )
    assert item.description == "It jams on every page.\n\nNora"
    with gateway.read() as db:
        nora = db.scalars(select(Person).filter_by(email="nora@example.net")).one()
        assert (nora.name, nora.role_names, nora.is_staff) == ("Nora New", {"requester"}, False)
    assert item.requester_id == nora.id
    await gateway.status(item.id, "resolved")  # its run started and took its first step
    [record] = gateway.records()
    assert (record.message_id, record.outcome, record.transport) == (
        mail["Message-ID"],
        "ticket",
        "smtp",
    )
    assert (record.work_item_id, record.reason) == (item.id, "a new request")


async def test_a_known_requester_keeps_their_account(gateway: Gateway) -> None:
    with gateway.sessions.begin() as db:
        db.add(Person(email="rita@example.net", name="Rita Requester"))
    await gateway.send(message("VPN down", sender="RITA <Rita@Example.NET>"))
    [item] = gateway.items()
    with gateway.read() as db:
        [rita] = db.scalars(select(Person).filter_by(email="rita@example.net")).all()
    assert (item.requester_id, rita.name) == (rita.id, "Rita Requester")


async def test_names_and_words_in_any_language_arrive_intact(gateway: Gateway) -> None:
    mail = message(
        "Drucker im 3. Stock: Papierstau — 打印机卡纸",
        "Grüße aus Zürich.\n\nJürgen",
        sender="Jürgen Müller <juergen@example.net>",
    )
    await gateway.send(mail)
    [item] = gateway.items()
    assert (item.title, item.description) == (mail["Subject"], "Grüße aus Zürich.\n\nJürgen")
    with gateway.read() as db:
        person = db.scalars(select(Person).filter_by(email="juergen@example.net")).one()
    assert person.name == "Jürgen Müller"
    utf8 = message("SMTPUTF8", "Envelope in UTF-8.", sender="Zoë <zoë@example.net>")

    def send() -> None:  # in a thread: the listener runs on this test's event loop
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
            client.send_message(utf8, "zoë@example.net", [DESK], mail_options=["SMTPUTF8"])

    await asyncio.to_thread(send)
    assert gateway.record(utf8["Message-ID"]).outcome == "ticket"


async def test_a_reply_is_a_comment_and_reopens_the_resolved_ticket(gateway: Gateway) -> None:
    await gateway.send(message("Printer jams"))
    [item] = gateway.items()
    await gateway.status(item.id, "resolved")
    reply = message(
        f"Re: [{item.reference}] Printer jams",
        "Still jams on tray 2.\n\nOn Fri, 4 Dec 2026 at 10:00, Help Desk wrote:\n"
        "> Your request is resolved.\n> Reply if it is not.\n",
        headers={"In-Reply-To": f"<tierflow.{item.id}.7@desk.example.org>",
                 "References": f"<tierflow.{item.id}.3@desk.example.org> "
                               f"<tierflow.{item.id}.7@desk.example.org>"},
    )  # fmt: skip
    await gateway.send(reply)
    handle = gateway.harness.client.get_workflow_handle(item.workflow_id)
    assert (await handle.result())["outcome"] == "reopened"
    await gateway.status(item.id, "reopened")
    assert gateway.comments(item.id) == [("Still jams on tray 2.", True, item.requester_id)]
    assert gateway.record(reply["Message-ID"]).outcome == "reopened"
    # a second reply, found by the reference in its subject: a comment, no reopening now
    again = message(f"[{item.reference}] and one more thing", "Tray 1 too.")
    await gateway.send(again)
    assert gateway.comments(item.id)[-1] == ("Tray 1 too.", True, item.requester_id)
    assert gateway.record(again["Message-ID"]).reason == (
        f"replies to {item.reference} (reopened: no signal to send now)"
    )
    assert len(gateway.items()) == 1


async def test_a_reply_from_someone_else_is_a_ticket_of_their_own(gateway: Gateway) -> None:
    await gateway.send(message("Printer jams"))
    [item] = gateway.items()
    await gateway.send(message(f"Re: [{item.reference}] me too", sender="olga@example.net"))
    first, other = gateway.items()
    assert gateway.comments(first.id) == []
    assert other.requester_id != first.requester_id
    assert f"names {item.reference}, which is someone else's request" in other.description


async def test_the_same_mail_delivered_twice_makes_one_ticket(gateway: Gateway) -> None:
    mail = message("Screen flickers")
    await gateway.send(mail)
    await gateway.send(mail)
    await asyncio.gather(*(gateway.send(mail) for _ in range(3)))  # at the same moment
    [item] = gateway.items()
    [record] = gateway.records()
    assert (record.outcome, record.work_item_id, record.deliveries) == ("ticket", item.id, 5)
    await gateway.status(item.id, "resolved")
    # and a reply delivered twice is one comment
    reply = message(f"Re: [{item.reference}] Screen flickers", "Still flickers.")
    await gateway.send(reply)
    await gateway.send(reply)
    assert [body for body, _, _ in gateway.comments(item.id)] == ["Still flickers."]


async def test_mail_for_other_recipients_or_too_large_is_refused(gateway: Gateway) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await gateway.send(message("Hello"), to="someone@elsewhere.example")
    assert refused.value.recipients["someone@elsewhere.example"][0] == 550
    await gateway.send(message("To a domain address"), to="it@desk.example.org")
    big = message("Big", "x" * (gateway.settings.max_message_bytes + 10))
    with pytest.raises(smtplib.SMTPSenderRefused) as too_big:  # refused at MAIL FROM ... SIZE=
        await gateway.send(big)
    assert too_big.value.smtp_code == 552
    assert [item.title for item in gateway.items()] == ["To a domain address"]


async def test_a_mail_without_a_sender_is_refused_with_the_reason(gateway: Gateway) -> None:
    mail = message("Who am I", sender="undisclosed-recipients:;")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await gateway.send(mail, mail_from="bounce@example.net")
    assert refused.value.smtp_code == 550
    assert b"no sender address" in refused.value.smtp_error
    assert gateway.record(mail["Message-ID"]).outcome == "refused"
    assert gateway.items() == []


async def test_a_request_type_not_deployed_defers_the_mail_until_it_is(gateway: Gateway) -> None:
    gateway.inbox.settings = gateway.settings.model_copy(update={"request_type": "missing"})
    gateway.inbox.request_types |= {"missing": RequestType("missing", "Missing", "missing")}
    mail = message("Deferred")
    with pytest.raises(smtplib.SMTPDataError) as later:
        await gateway.send(mail)
    assert later.value.smtp_code == 451
    record = gateway.record(mail["Message-ID"])
    assert record.outcome == "pending"
    assert "not deployed" in record.reason
    gateway.inbox.settings = gateway.settings  # the administrator fixes it; the server retries
    await gateway.send(mail)
    assert gateway.record(mail["Message-ID"]).outcome == "ticket"
    assert len(gateway.items()) == 1
