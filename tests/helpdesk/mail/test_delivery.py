"""Mails reach a real SMTP server on loopback, with the right content, once each."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from plugins.helpdesk.mail.models import OutboxMail
from plugins.helpdesk.mail.outbox import Claimed, retry_now
from tests.helpdesk.mail.conftest import (
    Desk,
    SmtpServer,
    TlsFiles,
    drain,
    free_port,
    mail_settings,
    start_smtp,
)

MESSAGE_ID = re.compile(r"^<tierflow\.(\d+)\.[0-9a-f]{16}@example\.org>$")


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def by_subject(received: list[EmailMessage]) -> dict[str, EmailMessage]:
    return {str(message["Subject"]): message for message in received}


def test_every_kind_of_update_arrives_with_its_content(desk: Desk, smtp: SmtpServer) -> None:
    alice = desk.person("alice@example.org", "Alice Moreau")
    agent = desk.person("diego@example.org", "Diego Santos", is_staff=True)
    item = desk.ticket(alice, title="Printer <3> jams & smokes")
    ref = f"INC-{item:05d}"
    sender = desk.sender(mail_settings(smtp.port))
    desk.status(item, "new", "open")
    desk.comment(item, agent, "Which floor is it on?\n\nThe <b>third</b>?")
    drain(sender)  # sent: the question below is a mail of its own, not part of these
    desk.notify(item, f"[{ref}] We need more information", "Is it the printer by the window?")
    desk.status(item, "open", "resolved")
    drain(sender)  # days apart, as status changes are: each is a mail
    desk.status(item, "resolved", "open")
    drain(sender)
    desk.status(item, "open", "closed")
    drain(sender)

    mails = by_subject(smtp.wait_for(6))
    assert sorted(mails) == sorted([
        f"[{ref}] We received your request: Printer <3> jams & smokes",
        f"[{ref}] New reply: Printer <3> jams & smokes",
        f"[{ref}] We need more information",
        f"[{ref}] Resolved: Printer <3> jams & smokes",
        f"[{ref}] Reopened: Printer <3> jams & smokes",
        f"[{ref}] Now closed: Printer <3> jams & smokes",
    ])  # fmt: skip
    first = mails[f"[{ref}] We received your request: Printer <3> jams & smokes"]
    assert MESSAGE_ID.match(first["Message-ID"]).group(1) == str(item)  # type: ignore[union-attr]
    assert first["In-Reply-To"] is None
    assert str(first["To"]) == "Alice Moreau <alice@example.org>"
    assert str(first["From"]) == "IT help desk <helpdesk@example.org>"
    assert first["Auto-Submitted"] == "auto-generated"
    assert "Hello Alice Moreau," in text_of(first)
    assert f"Your request: https://help.example.org/items/{item}" in text_of(first)
    for subject, message in mails.items():
        if message is not first:  # the ticket's mails are one thread
            assert message["In-Reply-To"] == first["Message-ID"], subject
            assert message["References"] == first["Message-ID"], subject
    comment = mails[f"[{ref}] New reply: Printer <3> jams & smokes"]
    assert "Diego Santos wrote on your request" in text_of(comment)
    assert "The <b>third</b>?" in text_of(comment)
    assert "The &lt;b&gt;third&lt;/b&gt;?" in html_of(comment)
    assert "<b>third" not in html_of(comment)
    question = mails[f"[{ref}] We need more information"]
    assert text_of(question).startswith("Is it the printer by the window?")
    title = "Printer <3> jams & smokes"
    assert "we believe your request" in text_of(mails[f"[{ref}] Resolved: {title}"])
    assert "was reopened" in text_of(mails[f"[{ref}] Reopened: {title}"])
    assert "is now closed." in text_of(mails[f"[{ref}] Now closed: {title}"])
    assert smtp.handler.envelopes == [("helpdesk@example.org", ["alice@example.org"])] * 6
    rows = desk.outbox()
    assert {row.state for row in rows} == {"sent"}
    assert all(row.message_id and row.message_id in (row.message or "") for row in rows)


def test_a_workflows_words_replace_the_default_ones_in_one_mail(
    desk: Desk, smtp: SmtpServer
) -> None:
    alice = desk.person("alice@example.org")
    item = desk.ticket(alice)
    ref = f"INC-{item:05d}"
    desk.status(item, "new", "open")
    desk.notify(item, f"[{ref}] We received your request", "Hello,\n\nwe answer within a day.")
    desk.status(item, "open", "resolved")
    desk.notify(item, f"[{ref}] Resolved", "We believe it is fixed.")
    drain(desk.sender(mail_settings(smtp.port)))
    mails = by_subject(smtp.wait_for(2))
    assert sorted(mails) == [f"[{ref}] Resolved", f"[{ref}] We received your request"]
    assert text_of(mails[f"[{ref}] Resolved"]).startswith("We believe it is fixed.")
    assert "<p>Hello,</p>\n<p>we answer within a day.</p>" in html_of(
        mails[f"[{ref}] We received your request"]
    )
    assert [row.state for row in desk.outbox()] == ["sent", "merged", "sent", "merged"]


def test_held_mails_wait_for_the_workflows_words(desk: Desk, smtp: SmtpServer) -> None:
    alice = desk.person("alice@example.org")
    item = desk.ticket(alice)
    now = datetime.now(UTC)
    sender = desk.sender(mail_settings(smtp.port, hold_seconds=60), clock=lambda: now)
    assert sender.round().claimed == 0  # held: a notice may still join it
    desk.notify(item, "[x] We received your request", "Hello")
    later = now + timedelta(seconds=61)
    sender.clock = lambda: later
    drain(sender)
    [mail] = smtp.wait_for(1)
    assert text_of(mail).startswith("Hello")


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_tls_with_a_password(desk: Desk, tls_files: TlsFiles, security: str) -> None:
    def check(*args: object) -> AuthResult:  # aiosmtpd's authenticator: ..., auth_data
        given = args[-1]
        login = isinstance(given, LoginPassword) and (given.login, given.password)
        return AuthResult(success=login == (b"mailer", b"s3cret"))

    context = tls_files.server_context()
    options: dict[str, object] = {"authenticator": check}
    if security == "starttls":
        options |= {"tls_context": context, "require_starttls": True, "auth_required": True}
    else:  # aiosmtpd cannot tell its implicit TLS from plain: AUTH is offered, not required
        options |= {"ssl_context": context, "auth_require_tls": False}
    server = start_smtp(**options)
    try:
        alice = desk.person("alice@example.org")
        desk.ticket(alice)
        settings = mail_settings(
            server.port, smtp_security=security, smtp_username="mailer",
            smtp_password="s3cret", smtp_ca_file=str(tls_files.cert),
        )  # fmt: skip
        drain(desk.sender(settings))
        assert len(server.wait_for(1)) == 1
        assert desk.outbox()[0].state == "sent"
    finally:
        server.stop()


def test_an_untrusted_certificate_is_refused_and_retried(desk: Desk, tls_files: TlsFiles) -> None:
    server = start_smtp(tls_context=tls_files.server_context(), require_starttls=True)
    try:
        desk.ticket(desk.person("alice@example.org"))
        drain(desk.sender(mail_settings(server.port, smtp_security="starttls")))
        [row] = desk.outbox()
        assert (row.state, row.attempts, server.received) == ("queued", 1, [])
        assert "CERTIFICATE_VERIFY_FAILED" in row.last_error
    finally:
        server.stop()


def test_a_server_down_for_a_while_gets_every_mail_exactly_once(desk: Desk) -> None:
    port = free_port()  # nothing listens there yet
    alice, bob = desk.person("alice@example.org"), desk.person("bob@example.org")
    items = [desk.ticket(alice), desk.ticket(bob), desk.ticket(alice)]
    for item in items:
        desk.status(item, "new", "open")
        desk.status(item, "open", "resolved")
    now = [datetime.now(UTC)]
    sender = desk.sender(mail_settings(port, retry_base_seconds=10), clock=lambda: now[0])
    waits = []
    for attempt in range(1, 4):  # three rounds while the server is down
        done = sender.round()
        assert (done.claimed, done.retrying, done.sent) == (6, 6, 0)
        rows = desk.outbox()
        assert {(r.state, r.attempts) for r in rows} == {("queued", attempt)}
        assert all("ConnectionRefusedError" in r.last_error for r in rows)
        assert sender.round().claimed == 0  # nothing is due before its backoff ends
        waits.append(min(r.next_attempt_at for r in rows) - now[0])
        now[0] = max(r.next_attempt_at for r in rows) + timedelta(seconds=1)
    for wait, doubled in zip(waits, (10, 20, 40), strict=True):  # ±20 % jitter
        assert 0.8 * doubled <= wait.total_seconds() <= 1.2 * doubled
    server = start_smtp(port)
    try:
        drain(sender)
        received = server.wait_for(6)
        assert len(received) == 6
        assert len({m["Message-ID"] for m in received}) == 6
        assert {(r.state, r.attempts, r.last_error) for r in desk.outbox()} == {("sent", 4, "")}
        drain(sender)
        assert len(server.wait_for(7, timeout=0.5)) == 6  # nothing more, ever
    finally:
        server.stop()


def test_a_refused_address_fails_for_good_and_an_admin_retries_it(
    desk: Desk, smtp: SmtpServer
) -> None:
    desk.ticket(desk.person("alice@example.org"))
    smtp.handler.refuse_rcpt = "550 5.1.1 no such user"
    sender = desk.sender(mail_settings(smtp.port))
    drain(sender)
    [row] = desk.outbox()
    assert (row.state, row.attempts) == ("failed", 1)
    assert row.last_error == "the server answered 550 5.1.1 no such user"
    smtp.handler.refuse_rcpt = ""
    drain(sender)
    assert smtp.received == []
    with desk.sessions.begin() as session:
        assert retry_now(session, row.id, datetime.now(UTC))
    drain(sender)
    assert len(smtp.wait_for(1)) == 1
    assert desk.outbox()[0].state == "sent"
    with desk.sessions.begin() as session:
        assert not retry_now(session, row.id, datetime.now(UTC))  # sent is sent


def test_gives_up_after_max_attempts(desk: Desk) -> None:
    desk.ticket(desk.person("alice@example.org"))
    now = [datetime.now(UTC)]
    sender = desk.sender(mail_settings(free_port(), max_attempts=3), clock=lambda: now[0])
    for _ in range(3):
        sender.round()
        now[0] += timedelta(hours=1)
    [row] = desk.outbox()
    assert (row.state, row.attempts) == ("failed", 3)
    assert sender.round().claimed == 0


def test_admins_replace_a_template_in_the_data_folder(desk: Desk, smtp: SmtpServer) -> None:
    folder = desk.data_dir / "templates" / "helpdesk" / "mail"
    folder.mkdir(parents=True)
    (folder / "created.html").write_text(
        '{% extends "helpdesk/mail/_layout.html" %}'
        "{% block subject %}Thanks, {{ recipient }}!{% endblock %}"
        "{% block text %}Ticket {{ item.reference }} is in good hands.{% endblock %}"
    )
    item = desk.ticket(desk.person("alice@example.org", "Alice"))
    drain(desk.sender(mail_settings(smtp.port)))
    [mail] = smtp.wait_for(1)
    assert mail["Subject"] == f"[INC-{item:05d}] Thanks, Alice!"  # the reference is always there
    assert text_of(mail).startswith(f"Ticket INC-{item:05d} is in good hands.")


def test_a_broken_template_is_named_and_the_mail_waits(desk: Desk, smtp: SmtpServer) -> None:
    folder = desk.data_dir / "templates" / "helpdesk" / "mail"
    folder.mkdir(parents=True)
    (folder / "created.html").write_text("{% block subject %}{{ item.title {% endblock %}")
    desk.ticket(desk.person("alice@example.org"))
    drain(desk.sender(mail_settings(smtp.port)))
    [row] = desk.outbox()
    assert row.state == "queued"
    assert row.last_error.startswith("mail template ")
    assert "created.html:1" in row.last_error
    assert smtp.received == []


def test_the_stored_message_is_what_every_attempt_sends(desk: Desk, smtp: SmtpServer) -> None:
    desk.ticket(desk.person("alice@example.org"))
    sender = desk.sender(mail_settings(smtp.port))
    smtp.handler.refuse_rcpt = "451 4.3.0 try again later"
    sender.round()
    with desk.sessions() as session:
        stored = session.scalars(select(OutboxMail.message)).one()
    smtp.handler.refuse_rcpt = ""
    with desk.sessions.begin() as session:
        retry_now(session, session.scalars(select(OutboxMail.id)).one(), datetime.now(UTC))
    drain(sender)
    [mail] = smtp.wait_for(1)
    assert (
        mail.as_bytes().replace(b"\r\n", b"\n").strip()
        == (stored or "").replace("\r\n", "\n").encode().strip()
    )


def test_the_senders_extras_reach_the_templates(desk: Desk, smtp: SmtpServer) -> None:
    item = desk.ticket(desk.person("alice@example.org"))
    desk.status(item, "new", "open")
    desk.status(item, "open", "resolved")

    def survey(mail: Claimed) -> dict[str, str]:
        return {"survey_link": f"https://help.example.org/survey/{mail.work_item_id}?t=signed"}

    drain(desk.sender(mail_settings(smtp.port), extras=survey))
    mails = by_subject(smtp.wait_for(2))
    resolved = mails[f"[INC-{item:05d}] Resolved: Printer jams"]
    assert f"Rate our help from 1 to 5: https://help.example.org/survey/{item}?t=signed" in (
        text_of(resolved)
    )
    assert "survey" not in text_of(
        mails[f"[INC-{item:05d}] We received your request: Printer jams"]
    )
