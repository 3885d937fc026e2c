"""Admins' templates take effect while the server runs: no restart after adding or removing one."""

from __future__ import annotations

from tests.helpdesk.mail.conftest import Desk, SmtpServer, drain, mail_settings
from tests.helpdesk.mail.test_delivery import text_of

OVERRIDE = (
    '{% extends "helpdesk/mail/_layout.html" %}'
    "{% block subject %}Thanks, {{ recipient }}!{% endblock %}"
    "{% block text %}Ticket {{ item.reference }} is in good hands.{% endblock %}"
)
LAYOUT = (
    "{% if part == 'subject' %}{% block subject %}{% endblock %}"
    "{% elif part == 'text' %}{% block text %}{% endblock %}\n-- \nThe service desk"
    "{% else %}<p>{% block html %}{{ self.text() }}{% endblock %}</p>{% endif %}"
)


def test_a_template_added_while_running_replaces_the_shipped_one_from_then_on(
    desk: Desk, smtp: SmtpServer
) -> None:
    alice = desk.person("alice@example.org", "Alice")
    sender = desk.sender(mail_settings(smtp.port))  # one renderer for the whole test
    folder = desk.data_dir / "templates" / "helpdesk" / "mail"

    def send(title: str) -> tuple[str, str]:
        desk.ticket(alice, title)
        drain(sender)
        mail = smtp.wait_for(len(desk.outbox()))[-1]
        return str(mail["Subject"]), text_of(mail)

    assert send("First")[0].endswith("We received your request: First")  # shipped, now cached
    folder.mkdir(parents=True)
    (folder / "created.html").write_text(OVERRIDE)
    subject, text = send("Second")
    assert subject.endswith("Thanks, Alice!")
    assert "is in good hands." in text
    assert text.rstrip().endswith("IT help desk")
    (folder / "_layout.html").write_text(LAYOUT)  # the parent of every mail, replaced too
    assert send("Third")[1].rstrip().endswith("-- \nThe service desk")
    (folder / "created.html").unlink()
    (folder / "_layout.html").unlink()
    subject, text = send("Fourth")  # removed: the shipped ones again
    assert subject.endswith("We received your request: Fourth")
    assert text.rstrip().endswith("IT help desk")
