"""A received mail's own page for administrators (headers, text, the sanitised HTML as
escaped source, files, outcome and why) and "Make a ticket from it" for a mail that made
none: over HTTP to the web app, with the listener's runs on the time-skipping server."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from engine.config import secret_key
from engine.model import auth as credentials
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import session_token
from engine.web.temporal import TemporalLink
from plugins.helpdesk.inbound.views_mail import why
from tests.helpdesk.inbound.conftest import Gateway, message
from tests.web.conftest import MakeApp, make_app  # noqa: F401 (fixture)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]

HTML = "<p>Out of office<script>alert('x')</script></p><p>Back <b>Monday</b></p>"


def _browser(gateway: Gateway, make_app: MakeApp) -> tuple[httpx.AsyncClient, str]:  # noqa: F811
    """A browser signed in as an administrator, and its CSRF token."""
    admin = gateway.person("ada@example.org", "Ada Admin", {"admin"})
    with gateway.sessions.begin() as db:
        session_id = credentials.start_session(db, admin)
    app = make_app(entry_points=True, task_queue=gateway.harness.queue)
    app.state.temporal = TemporalLink(client=gateway.harness.client)
    app.state.request_types = app.state.request_types | gateway.inbox.request_types
    app.state.settings = app.state.settings.model_copy(update={"inbound": gateway.settings})
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                base_url="http://testserver",
                                cookies={SESSION_COOKIE: session_id})  # fmt: skip
    return browser, session_token(secret_key(app.state.settings), session_id)


async def test_a_dropped_mail_is_shown_and_made_a_ticket_once(
    gateway: Gateway,
    make_app: MakeApp,  # noqa: F811
) -> None:
    mail = message("Away: printer", "Out of office\nBack Monday", html=HTML,
                   headers={"Auto-Submitted": "auto-replied"})  # fmt: skip
    await gateway.send(mail)
    [record] = gateway.records()
    assert record.outcome == "dropped"
    browser, token = _browser(gateway, make_app)
    async with browser:
        page = await browser.get(f"/helpdesk/admin/inbound/{record.id}")
        assert page.status_code == 200
        assert "Nora New &lt;nora@example.net&gt;" in page.text
        assert f"Message-Id: {mail['Message-ID']}".replace("<", "&lt;").replace(">", "&gt;") in (
            page.text
        )
        assert "Out of office\nBack Monday" in page.text
        assert "&lt;p&gt;Out of office&lt;/p&gt;&lt;p&gt;Back &lt;b&gt;Monday" in page.text
        assert "<b>Monday</b>" not in page.text
        assert "alert" not in page.text
        assert "<dd>an automatic reply (Auto-Submitted: auto-replied)</dd>" in page.text
        assert "Make a ticket from it" in page.text
        listed = await browser.get("/helpdesk/admin/inbound")
        assert f'href="/helpdesk/admin/inbound/{record.id}"' in listed.text
        path = f"/helpdesk/admin/inbound/{record.id}/ticket"
        answers = [await browser.post(path, data={"csrf_token": token}) for _ in range(2)]
        assert [a.status_code for a in answers] == [303, 303], answers[0].text
        done = await browser.get(answers[0].headers["location"])
        assert "The mail is a ticket now" in done.text
        assert "Make a ticket from it" not in done.text
        missing = await browser.post("/helpdesk/admin/inbound/999/ticket",
                                     data={"csrf_token": token})  # fmt: skip
        assert missing.status_code == 404
        assert (await browser.get("/helpdesk/admin/inbound/999")).status_code == 404
    [item] = gateway.items()
    assert (item.title, item.requester_id is not None) == ("Away: printer", True)
    assert item.description.startswith(
        "Ada Admin made this ticket of a mail that was dropped: an automatic reply"
    )
    record = gateway.record(mail["Message-ID"])
    assert (record.outcome, record.work_item_id, record.claim_token) == ("ticket", item.id, None)
    await gateway.status(item.id, "resolved")  # its run started


async def test_a_ticket_mail_cannot_be_made_again_and_why_does_not_repeat_the_outcome(
    gateway: Gateway,
    make_app: MakeApp,  # noqa: F811
) -> None:
    await gateway.send(message("Printer jams"))
    [record] = gateway.records()
    browser, token = _browser(gateway, make_app)
    async with browser:
        page = await browser.get(f"/helpdesk/admin/inbound/{record.id}")
        assert "Make a ticket from it" not in page.text
        again = await browser.post(f"/helpdesk/admin/inbound/{record.id}/ticket",
                                   data={"csrf_token": token})  # fmt: skip
        assert again.status_code == 303
    assert len(gateway.items()) == 1
    assert why("held", "held: unauthenticated (no header)") == "unauthenticated (no header)"
    assert why("ticket", "created TIC-00001") == ""
    assert why("dropped", "an automatic reply") == "an automatic reply"
