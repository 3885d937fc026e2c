"""What the headers say, taken as meant: a display name with an encoded line break, a
Message-ID another mail used first, and subjects that make poor titles.

Real mails over SMTP to the listener; runs on the time-skipping server; SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import smtplib

import pytest

from tests.helpdesk.inbound.conftest import DESK, Gateway, message

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]


def send_raw(gateway: Gateway, raw: bytes, sender: str) -> None:
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
        client.sendmail(sender, [DESK], raw)


async def test_a_line_break_encoded_in_the_name_is_flattened_not_refused(
    gateway: Gateway,
) -> None:
    raw = (
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_all=40example.org?= <eve@example.net>\r\n"
        b"To: help@example.org\r\nSubject: Laptop is slow\r\n"
        b"Message-ID: <crlf.1@example.net>\r\n\r\nIt takes minutes to start.\r\n"
    )
    await asyncio.to_thread(send_raw, gateway, raw, "eve@example.net")  # 250, not 550
    record = gateway.record("<crlf.1@example.net>")
    assert (record.outcome, record.sender, record.sender_name) == (
        "ticket", "eve@example.net", "Eve Bcc: all@example.org",
    )  # fmt: skip


async def test_a_reused_message_id_is_a_mail_of_its_own(gateway: Gateway) -> None:
    first = message("Printer jams", message_id="<same.1@example.net>")
    await gateway.send(first)
    await gateway.send(first)  # the same mail again: one record, two deliveries
    other = message("Monitor is dark", "Nothing on screen.", message_id="<same.1@example.net>")
    await gateway.send(other)
    stranger = message("Printer jams", sender="olga@example.net",
                       message_id="<same.1@example.net>")  # fmt: skip
    await gateway.send(stranger)
    records = gateway.records()
    assert [(r.sender, r.subject, r.deliveries, r.reused, r.outcome) for r in records] == [
        ("nora@example.net", "Printer jams", 2, False, "ticket"),
        ("nora@example.net", "Monitor is dark", 1, True, "ticket"),
        ("olga@example.net", "Printer jams", 1, True, "ticket"),
    ]
    assert "its Message-ID was reused" in records[1].reason
    assert [item.title for item in gateway.items()] == ["Printer jams", "Monitor is dark",
                                                         "Printer jams"]  # fmt: skip


async def test_titles_lose_reply_prefixes_and_references_and_need_no_subject(
    gateway: Gateway,
) -> None:
    await gateway.send(message("Re: [TIC-00008] Resolved", "The scanner is broken too."))
    await gateway.send(message("AW: WG: Drucker", "Papierstau."))
    await gateway.send(message("", "\n\n  My screen   is black since the update\nHelp!"))
    first, second, third = gateway.items()
    assert first.title == "Resolved"
    assert first.description.startswith("This mail answers TIC-00008.\n\nThe scanner")
    assert second.title == "Drucker"
    assert third.title == "My screen is black since the update"
