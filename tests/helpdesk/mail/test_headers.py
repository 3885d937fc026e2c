"""Header injection: nothing typed into a title, a name or a workflow's subject adds a header."""

from __future__ import annotations

import pytest

from plugins.helpdesk.mail.render import Envelope, Rendered, build, one_line
from plugins.helpdesk.mail.settings import MailSettings
from tests.helpdesk.mail.conftest import Desk, SmtpServer, drain, mail_settings

PAYLOADS = [
    "Hi\r\nBcc: victim@example.org",
    "Hi\nBcc: victim@example.org",
    "Hi\rBcc: victim@example.org",
    "Hi\u2028Bcc: victim@example.org",
    "Hi\x85Bcc: victim@example.org",
    "Hi\r\n\r\n<html>injected body</html>",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_one_line_leaves_no_line_break(payload: str) -> None:
    assert one_line(payload) in ("Hi Bcc: victim@example.org", "Hi <html>injected body</html>")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_built_headers_hold_the_payload_on_their_own_line(payload: str) -> None:
    settings = MailSettings.model_construct(  # unchecked: build() must hold on its own
        from_address="helpdesk@example.org", from_name=f"Desk {payload[2:]}"
    )
    rendered = Rendered(subject=payload, text="body\n", html="<p>body</p>")
    envelope = Envelope(payload, "alice@example.org", "<tierflow.1.abc@example.org>")
    text = build(rendered, settings, envelope).as_string()
    head = text.split("\r\n\r\n", 1)[0]
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] != " "]
    assert "Bcc" not in names
    assert names.count("Subject") == 1
    assert "victim@example.org" not in text.split("\r\n\r\n", 1)[1]


@pytest.mark.parametrize("payload", PAYLOADS[:3])
def test_a_requesters_title_and_name_cannot_add_a_recipient(
    desk: Desk, smtp: SmtpServer, payload: str
) -> None:
    alice = desk.person("alice@example.org", name=f"Alice {payload}")
    item = desk.ticket(alice, title=payload)
    desk.notify(item, f"[INC] {payload}", "Hello")  # a workflow subject made from the title
    desk.status(item, "new", "open")
    desk.status(item, "open", "resolved")
    drain(desk.sender(mail_settings(smtp.port)))
    received = smtp.wait_for(2)
    assert len(received) == 2
    assert smtp.handler.envelopes == [("helpdesk@example.org", ["alice@example.org"])] * 2
    for message in received:
        assert message["Bcc"] is None
        assert "\n" not in str(message["Subject"])
        assert "victim" not in str(message["To"]).split("<", 1)[1]
        assert message["To"].addresses[0].addr_spec == "alice@example.org"


def test_settings_refuse_a_sender_name_with_a_line_break() -> None:
    with pytest.raises(ValueError, match="must be one line"):
        MailSettings(from_name="Desk\r\nBcc: victim@example.org")
