"""Replies come back: every mail's Reply-To is an address inbound mail accepts, or a warning.

``[mail] reply_to`` empty means the first of ``[inbound] addresses`` while the
listener (or IMAP) is on, else ``from_address``. The service started as
``tierflow serve`` starts it warns when replies would go where inbound mail
does not look, and the mail admin page says so too. The listener here is
the real inbound one, started by the same services.
"""

from __future__ import annotations

import asyncio
import io
import logging
import smtplib
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from engine.cli import plugin_sections
from engine.config import load_settings
from engine.plugins import create_plugin_manager
from engine.progress import Steps
from engine.server import _Running, _stop, start_services
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.mail.replies import reply_address, reply_problem
from tests.helpdesk.mail.conftest import Desk, SmtpServer, drain, free_port, mail_settings
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)

HELP = "help@example.org"


def test_the_reply_address_follows_inbound_unless_set() -> None:
    mail = mail_settings(25)
    off = InboundSettings()
    listening = InboundSettings(smtp_port=2525, addresses=[HELP, "it@example.org"])
    polling = InboundSettings(imap_host="imap.example.org", addresses=[HELP])
    assert reply_address(mail, off) == "helpdesk@example.org"  # from_address
    assert reply_address(mail, listening) == HELP
    assert reply_address(mail, polling) == HELP
    chosen = mail_settings(25, reply_to="it@example.org")
    assert reply_address(chosen, listening) == "it@example.org"
    assert reply_problem(chosen, listening) == ""
    assert reply_problem(mail, listening) == ""
    assert "inbound mail is off" in reply_problem(mail, off)
    wrong = mail_settings(25, reply_to="noreply@example.net")
    problem = reply_problem(wrong, listening)
    assert "noreply@example.net, which inbound mail does not accept" in problem
    assert f"(accepted: {HELP}, it@example.org)" in problem
    by_domain = InboundSettings(smtp_port=2525, domains=["example.org"])
    assert reply_address(mail, by_domain) == "helpdesk@example.org"
    assert reply_problem(mail, by_domain) == ""
    assert reply_problem(mail_settings(25, smtp_host=""), off) == ""  # nothing is sent at all


def test_a_reply_to_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="reply_to"):
        mail_settings(25, reply_to="help@example.org\r\nBcc: victim@example.org")


def test_every_mail_says_where_to_reply(desk: Desk, smtp: SmtpServer) -> None:
    desk.ticket(desk.person("alice@example.org"))
    drain(desk.sender(mail_settings(smtp.port, reply_to=HELP)))
    [mail] = smtp.wait_for(1)
    assert mail["Reply-To"].addresses[0].addr_spec == HELP
    assert mail["From"].addresses[0].addr_spec == "helpdesk@example.org"


def _environment(monkeypatch, smtp: SmtpServer, listener: int, **mail: str) -> None:
    values = {
        "MAIL__SMTP_HOST": "127.0.0.1", "MAIL__SMTP_PORT": str(smtp.port),
        "MAIL__SMTP_SECURITY": "none", "MAIL__FROM_ADDRESS": "helpdesk@example.org",
        "MAIL__HOLD_SECONDS": "0", "MAIL__POLL_SECONDS": "0.1",
        "INBOUND__SMTP_PORT": str(listener), "INBOUND__ADDRESSES": f'["{HELP}"]',
        **{f"MAIL__{name.upper()}": value for name, value in mail.items()},
    }  # fmt: skip
    for name, value in values.items():
        monkeypatch.setenv(f"TIERFLOW_{name}", value)


async def _serve(desk: Desk, tmp_path: Path) -> tuple[_Running, str]:
    pm = create_plugin_manager()
    settings = load_settings(plugin_sections(pm), data_dir=tmp_path)
    running, shown = _Running(), io.StringIO()
    await start_services(
        settings, pm, sessions=desk.sessions, client=None, steps=Steps(shown), running=running
    )  # type: ignore[arg-type]
    return running, shown.getvalue()


def _accepted(port: int, address: str) -> int:
    """The real inbound listener's answer to ``RCPT TO:<address>`` (nothing is sent)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.ehlo()
        client.mail("alice@example.org")
        code, _ = client.rcpt(address)
        client.rset()
        return code


async def test_by_default_replies_go_to_the_inbound_listener(
    desk: Desk, smtp: SmtpServer, tmp_path: Path, monkeypatch, caplog
) -> None:
    listener = free_port()
    _environment(monkeypatch, smtp, listener)
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.WARNING, "plugins.helpdesk.mail.sender")
    running, shown = await _serve(desk, tmp_path)
    try:
        assert "warning" not in shown
        desk.ticket(desk.person("alice@example.org"))
        [mail] = await asyncio.to_thread(smtp.wait_for, 1)
        reply_to = mail["Reply-To"].addresses[0].addr_spec
        assert reply_to == HELP
        assert await asyncio.to_thread(_accepted, listener, reply_to) == 250
        assert await asyncio.to_thread(_accepted, listener, "helpdesk@example.org") == 550
    finally:
        await _stop(running, Steps(io.StringIO()))
    assert not [r for r in caplog.records if r.name == "plugins.helpdesk.mail.sender"]


async def test_a_reply_address_inbound_refuses_is_warned_about_at_start(
    desk: Desk, smtp: SmtpServer, tmp_path: Path, monkeypatch, caplog
) -> None:
    _environment(monkeypatch, smtp, free_port(), reply_to="helpdesk@example.org")
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.WARNING, "plugins.helpdesk.mail.sender")
    running, shown = await _serve(desk, tmp_path)
    await _stop(running, Steps(io.StringIO()))
    expected = "Replies to these mails go to helpdesk@example.org, which inbound mail does not"
    assert expected in shown
    assert any(expected in record.getMessage() for record in caplog.records)


def test_the_admin_page_shows_where_replies_are_lost(
    make_app: MakeApp,  # noqa: F811
    make_person,
    session,
) -> None:
    app = make_app(("helpdesk", helpdesk_plugin))
    sections = plugin_sections(app.state.pm)
    app.state.settings = load_settings(
        sections, data_dir=app.state.settings.data_dir,
        mail={"smtp_host": "127.0.0.1", "from_address": "helpdesk@example.org"},
        inbound={"smtp_port": 2525, "addresses": [HELP]},
    )  # fmt: skip
    admin = make_person(email="root@example.org", roles={"admin"})
    session.commit()
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        sign_in(client, admin)
        assert "Replies to these mails" not in client.get("/helpdesk/admin/mail").text
        app.state.settings = load_settings(
            sections, data_dir=app.state.settings.data_dir,
            mail={"smtp_host": "127.0.0.1", "from_address": "helpdesk@example.org",
                  "reply_to": "noreply@example.org"},
            inbound={"smtp_port": 2525, "addresses": [HELP]},
        )  # fmt: skip
        page = client.get("/helpdesk/admin/mail")
    assert page.status_code == 200
    assert "Replies to these mails go to noreply@example.org, which inbound mail" in page.text
