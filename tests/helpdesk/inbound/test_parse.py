"""Reading a mail's bytes: whatever arrives becomes plain values, never an exception."""

from __future__ import annotations

import pytest

from plugins.helpdesk.inbound.body import html_to_text, strip_quoted
from plugins.helpdesk.inbound.parse import parse, safe_filename


def read(raw: bytes):
    return parse(raw, max_attachment_bytes=1000, max_attachments=2)


def test_a_mail_without_message_id_gets_one_from_its_bytes() -> None:
    raw = b"From: a@example.net\r\nSubject: x\r\n\r\nbody\r\n"
    first, again = read(raw), read(raw)
    assert first.message_id == again.message_id
    assert first.message_id.endswith("@no-message-id.invalid>")
    assert read(raw + b"more").message_id != first.message_id


def test_broken_headers_and_charsets_become_empty_or_replaced_values() -> None:
    raw = (
        b"From: =?bogus?Q?x?= <not an address>\r\nSubject: \x00ping\r\n"
        b"Message-ID: <id@example.net>\r\nContent-Type: text/plain; charset=klingon\r\n\r\n"
        b"caf\xe9\x00!\r\n"
    )
    mail = read(raw)
    assert (mail.sender, mail.subject, mail.message_id) == ("", "ping", "<id@example.net>")
    assert mail.text == "caf\ufffd!"


def test_references_are_read_from_in_reply_to_then_references() -> None:
    raw = (
        b"From: a@example.net\r\nIn-Reply-To: <b@x>\r\n"
        b"References: <a@x> <b@x>\r\nSubject: Re: hi\r\n\r\nok\r\n"
    )
    assert read(raw).references == ("<b@x>", "<a@x>", "<b@x>")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ('a<b>:c"|?*;.txt', "abc.txt"),
        ("\x00\x1f...", "attachment-3.pdf"),
        (None, "attachment-3.pdf"),
        ("x" * 300 + ".docx", "x" * 195 + ".docx"),  # 200 characters
    ],
)
def test_file_names_are_made_safe(given: str | None, kept: str) -> None:
    assert safe_filename(given, 3, "application/pdf") == kept


def test_html_becomes_text_without_what_scripts_held() -> None:
    html = "<div>One<br>Two</div><script>alert(1)</script><ul><li>A &amp; B</li></ul>"
    assert html_to_text(html) == "One\nTwo\n\nA & B"


@pytest.mark.parametrize(
    ("text", "own"),
    [
        ("Still broken.\n\nOn Mon, 1 Dec 2026, Help <h@x> wrote:\n> Resolved.", "Still broken."),
        ("Yes.\n\n-----Original Message-----\nFrom: Help\nSent: Monday", "Yes."),
        ("Thanks!\n\n________________________________\nFrom: Help Desk\nSent: x", "Thanks!"),
        ("Works now.\n> quoted line\n> another\n", "Works now."),
        ("> only a quote\n> nothing else", "> only a quote\n> nothing else"),
        ("Inline:\n> question?\nanswer.", "Inline:\n> question?\nanswer."),
    ],
)
def test_quoted_history_is_cut_where_it_is_reliable(text: str, own: str) -> None:
    assert strip_quoted(text) == own
