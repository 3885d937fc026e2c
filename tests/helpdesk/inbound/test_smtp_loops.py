"""Mail loops are stopped: automatic replies, bulk mail and bounces make no ticket, and a
sender who keeps sending is held to the hourly limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from plugins.helpdesk.inbound.models import InboundMessage
from plugins.helpdesk.inbound.settings import InboundSettings
from tests.helpdesk.inbound.conftest import Gateway, message

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]

AUTOMATIC = [
    ({"Auto-Submitted": "auto-replied"}, "an automatic reply (Auto-Submitted: auto-replied)"),
    ({"Auto-Submitted": "auto-generated; owner-email=x@example.net"}, "an automatic reply"),
    ({"Precedence": "bulk"}, "bulk or list mail (Precedence: bulk)"),
    ({"Precedence": "junk"}, "bulk or list mail (Precedence: junk)"),
    ({"X-Autoreply": "yes"}, "an automatic reply (X-Autoreply header)"),
    ({"X-Auto-Response-Suppress": "All"}, "(X-Auto-Response-Suppress header)"),
    ({"Return-Path": "<>"}, "a bounce (empty return path)"),
]


@pytest.mark.parametrize(("headers", "reason"), AUTOMATIC, ids=[r for _, r in AUTOMATIC])
async def test_an_automatic_mail_is_taken_and_dropped(
    gateway: Gateway, headers: dict[str, str], reason: str
) -> None:
    mail = message("Out of office: Printer jams", headers=headers)
    await gateway.send(mail)  # 250: the sending server must not bounce it back either
    record = gateway.record(mail["Message-ID"])
    assert record.outcome == "dropped"
    assert reason in record.reason
    assert gateway.items() == []


async def test_bounces_and_our_own_mail_are_dropped(gateway: Gateway) -> None:
    bounce = message("Undelivered Mail Returned to Sender", sender="MAILER-DAEMON@mx.example.net")
    null_sender = message("Delivery Status Notification")
    desk = gateway.settings.addresses[0]
    ours = message("[TIC-00001] Your request", sender=f"Help desk <{desk}>")
    report = message("Delivery report")
    report.make_mixed()
    report.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    await gateway.send(bounce)
    await gateway.send(null_sender, mail_from="")
    await gateway.send(ours)
    await gateway.send(report)
    assert [(r.outcome, r.reason) for r in gateway.records()] == [
        ("dropped", "a bounce (from mailer-daemon@mx.example.net)"),
        ("dropped", "a bounce (empty return path)"),
        ("dropped", "mail from the help desk's own address help@example.org"),
        ("dropped", "a delivery report (bounce)"),
    ]
    assert gateway.items() == []


async def test_an_auto_reply_loop_without_headers_meets_the_hourly_limit(
    gateway: Gateway,
) -> None:
    limit = gateway.settings.per_sender_per_hour
    for number in range(limit + 3):  # an auto-responder that marks nothing as automatic
        await gateway.send(message(f"Re: Re: Re: thanks ({number})", sender="bot@example.net"))
        # (the subjects differ: the same one twice within the hour is a loop of its own)
    outcomes = [record.outcome for record in gateway.records()]
    assert outcomes == ["ticket"] * limit + ["dropped"] * 3
    assert "bot@example.net sent more than 4 mails within an hour" in gateway.records()[-1].reason
    assert len(gateway.items()) == limit
    await gateway.send(message("A person, not a loop", sender="nora@example.net"))
    assert len(gateway.items()) == limit + 1  # others are not held back


async def test_the_same_subject_again_within_the_hour_is_an_auto_responder_loop(
    gateway: Gateway,
) -> None:
    await gateway.send(message("Out of office", sender="away@example.net"))
    await gateway.send(message("Automatic reply: RE: Out of  office", sender="away@example.net"))
    await gateway.send(message("Out of office", sender="nora@example.net"))  # someone else
    assert [(r.sender, r.outcome) for r in gateway.records()] == [
        ("away@example.net", "ticket"),
        ("away@example.net", "dropped"),
        ("nora@example.net", "ticket"),
    ]
    assert "sent a mail with this subject within the hour" in gateway.records()[1].reason


async def test_a_sender_gets_at_most_the_daily_limit_across_hours(gateway: Gateway) -> None:
    defaults = InboundSettings()
    assert (defaults.per_sender_per_hour, defaults.per_sender_per_day) == (5, 20)
    day = gateway.settings.per_sender_per_day
    for number in range(day):  # earlier today, in hours gone by: each hour within its limit
        await gateway.send(message(f"Question {number}", sender="busy@example.net"))
        with gateway.sessions.begin() as db:
            for record in db.scalars(select(InboundMessage)):
                record.received_at -= timedelta(hours=1)
    await gateway.send(message("One too many today", sender="busy@example.net"))
    last = gateway.records()[-1]
    assert (last.outcome, last.reason) == (
        "dropped", f"busy@example.net sent more than {day} mails within a day",
    )  # fmt: skip
    assert len(gateway.items()) == day
