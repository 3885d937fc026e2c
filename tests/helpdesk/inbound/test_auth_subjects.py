"""Sender authentication (the trusted server's Authentication-Results), titles from subjects,
and a display name with an encoded line break: plain functions, no servers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plugins.helpdesk.inbound.auth import verdict
from plugins.helpdesk.inbound.parse import parse
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.inbound.subjects import normalised, title_from_text, title_of

MX = "mx.desk.example.org"


def test_the_verdict_reads_only_the_top_most_header_of_the_trusted_server() -> None:
    sender = "nora@example.net"
    assert verdict((f"{MX}; dmarc=pass",), sender, MX).authenticated
    assert verdict((f"{MX}; dkim=pass header.d=example.net",), sender, MX).authenticated
    assert not verdict((f"{MX}; dkim=pass header.d=evil.net",), sender, MX).authenticated
    assert not verdict((f"{MX}; dkim=pass header.d=mail.example.net",), sender, MX).authenticated
    assert not verdict((f"{MX}; dmarc=pass header.from=evil.net",), sender, MX).authenticated
    assert not verdict((f"{MX}; dmarc=pass",), sender, "").authenticated
    assert not verdict(("other.example; dmarc=pass", f"{MX}; dmarc=pass"), sender, MX).authenticated
    assert not verdict((), sender, MX).authenticated


def test_requiring_authentication_needs_a_trusted_server() -> None:
    with pytest.raises(ValidationError, match="trusted_authserv_id is empty"):
        InboundSettings(require_authenticated_requesters=True)
    with pytest.raises(ValidationError, match="is not an authserv-id"):
        InboundSettings(trusted_authserv_id="mx; dmarc=pass")


@pytest.mark.parametrize(
    ("subject", "title", "references"),
    [
        ("Re: [TIC-00008] Resolved", "Resolved", ("TIC-00008",)),
        ("AW: WG: Fwd: SV: Drucker", "Drucker", ()),
        ("RE: Re[2]: [INC-00042] Re: VPN down", "VPN down", ("INC-00042",)),
        ("Fw: [TIC-00001] [TIC-00002]", "", ("TIC-00001", "TIC-00002")),
        ("Reboot needed", "Reboot needed", ()),
        ("Resolution: none", "Resolution: none", ()),
    ],
)
def test_titles_lose_reply_prefixes_and_ticket_references(
    subject: str, title: str, references: tuple[str, ...]
) -> None:
    assert title_of(subject) == (title, references)


def test_a_title_from_the_text_and_the_subject_the_loop_check_compares() -> None:
    assert title_from_text("\n\n  My   screen\nis black") == "My screen"
    assert title_from_text("x" * 200) == "x" * 79 + "…"
    assert normalised("Automatic reply: RE: Out  of Office") == normalised("out of office")


def test_an_encoded_line_break_in_the_name_is_flattened_and_the_address_kept() -> None:
    raw = (
        b"From: =?utf-8?q?Evil=0D=0ABcc=3A_x=40y.org?= <Eve@Example.NET>\r\n"
        b"Subject: hi\r\nMessage-ID: <a@example.net>\r\n\r\nbody\r\n"
    )
    mail = parse(raw, max_attachment_bytes=10, max_attachments=1)
    assert (mail.sender, mail.sender_name) == ("eve@example.net", "Evil Bcc: x@y.org")
