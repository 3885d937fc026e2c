"""The link in every mail signs its requester in and shows the request; nobody else, never staff.

A requester created from e-mail has no password: the signed link in the
mail (``/helpdesk/open/{id}?t=...``) is how they reach their request. The
mail goes through a real SMTP server; the link is followed on the web app.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.config import secret_key
from engine.model import Event, Person, WebSession, WorkItem
from engine.web.auth import SESSION_COOKIE
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.mail import mail_extras
from plugins.helpdesk.mail.links import LINK_DAYS, SALT, open_token
from tests.helpdesk.mail.conftest import Desk, SmtpServer, drain, mail_settings
from tests.helpdesk.mail.test_delivery import text_of
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)


@pytest.fixture
def app(make_app: MakeApp) -> Starlette:  # noqa: F811
    return make_app(("helpdesk", helpdesk_plugin))


@pytest.fixture
def browser(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def _person(desk: Desk, email: str, *roles: str, **fields: object) -> int:
    with desk.sessions.begin() as session:
        person = Person(email=email, name=email.partition("@")[0].title(), **fields)
        person.grant(*roles)
        session.add(person)
        session.flush()
        return person.id


def _sessions(desk: Desk) -> int:
    with desk.sessions() as session:
        return session.scalar(select(func.count(WebSession.key))) or 0


def _expired(secret: str, item: int, person: int) -> str:
    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - LINK_DAYS * 86400 - 60

    return URLSafeTimedSerializer(secret, salt=SALT, signer=Earlier).dumps([item, person])


def test_the_link_in_a_mail_signs_the_requester_in_and_shows_the_request(
    app: Starlette, browser: TestClient, desk: Desk, smtp: SmtpServer
) -> None:
    alice = _person(desk, "alice@example.org", "requester")  # from e-mail: no password
    item = desk.ticket(alice, "Printer jams")
    settings = mail_settings(smtp.port)
    extras = mail_extras(app.state.settings, settings, desk.sessions)
    drain(desk.sender(settings, extras=extras))
    [mail] = smtp.wait_for(1)
    found = re.search(r"Your request: (\S+)", text_of(mail))
    assert found, text_of(mail)
    prefix = f"https://help.example.org/helpdesk/open/{item}?t="
    assert found.group(1).startswith(prefix)
    assert f'href="{found.group(1)}"' in mail.get_body(("html",)).get_content()
    with desk.sessions() as session:
        before = (session.get(WorkItem, item).status, session.scalar(select(func.count(Event.id))))

    reply = browser.get(found.group(1).removeprefix("https://help.example.org"))

    assert reply.status_code == 303
    assert reply.headers["location"] == f"/items/{item}"
    assert "httponly" in reply.headers["set-cookie"].lower()
    shown = browser.get(f"/items/{item}")
    assert shown.status_code == 200
    assert "Printer jams" in shown.text
    with desk.sessions() as session:  # only a session was started: the request is as it was
        after = (session.get(WorkItem, item).status, session.scalar(select(func.count(Event.id))))
    assert after == before
    assert _sessions(desk) == 1


def test_bad_links_and_staff_are_not_signed_in(
    app: Starlette, browser: TestClient, desk: Desk
) -> None:
    secret = secret_key(app.state.settings)
    alice = _person(desk, "alice@example.org", "requester")
    bob = _person(desk, "bob@example.org", "requester", active=False)
    agent = _person(desk, "diego@example.org", "agent", is_staff=True)
    mixed = _person(desk, "maria@example.org", "requester", "manager")
    mine, bobs = desk.ticket(alice), desk.ticket(bob)
    agents, marias = desk.ticket(agent), desk.ticket(mixed)
    good = open_token(secret, mine, alice)
    for path in (
        f"/helpdesk/open/{mine}?t={good[:-2]}xx",  # tampered
        f"/helpdesk/open/{mine}",  # no token
        f"/helpdesk/open/{mine}?t={_expired(secret, mine, alice)}",  # too old
        f"/helpdesk/open/{bobs}?t={good}",  # another request's link
        f"/helpdesk/open/{mine}?t={open_token(secret, mine, bob)}",  # not its requester
        f"/helpdesk/open/{bobs}?t={open_token(secret, bobs, bob)}",  # disabled
        f"/helpdesk/open/{agents}?t={open_token(secret, agents, agent)}",  # staff
        f"/helpdesk/open/{marias}?t={open_token(secret, marias, mixed)}",  # a manager too
        f"/helpdesk/open/{mine}?t={'x' * 5000}",
        f"/helpdesk/open/{10**12}?t={good}",
    ):
        reply = browser.get(path)
        assert reply.status_code == 403, path
        assert "This link has expired" in reply.text
        assert 'href="/sign-in?next=%2Fitems%2F' in reply.text
        assert SESSION_COOKIE not in reply.headers.get("set-cookie", "")
    assert _sessions(desk) == 0


def test_a_signed_in_visitor_goes_to_the_request_and_keeps_their_session(
    app: Starlette, browser: TestClient, desk: Desk
) -> None:
    secret = secret_key(app.state.settings)
    alice = _person(desk, "alice@example.org", "requester")
    agent = _person(desk, "diego@example.org", "agent", is_staff=True)
    item = desk.ticket(alice)
    sign_in(browser, SimpleNamespace(id=agent))  # type: ignore[arg-type]
    reply = browser.get(f"/helpdesk/open/{item}?t={open_token(secret, item, alice)}")
    assert reply.status_code == 303
    assert reply.headers["location"] == f"/items/{item}"
    assert "set-cookie" not in reply.headers
    assert _sessions(desk) == 1  # the agent's own
