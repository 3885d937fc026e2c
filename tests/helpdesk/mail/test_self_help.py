"""A request the requester closed by self-help ("This solved it") sends them no mail.

The portal records it as a work item created closed, with its ``created``
event; the requester saw it close on the page they clicked, so neither
"we received your request, we will be in touch" nor any other mail follows.
A request received the ordinary way, beside it, still gets its receipt.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.contrib import RequestType
from engine.plugins import unique_by
from engine.workflows import deploy_all
from plugins.helpdesk import demo
from plugins.helpdesk.kb.models import Article
from plugins.helpdesk.kb.selfhelp import SelfHelpInput, close_by_self_help
from plugins.helpdesk.models import Category
from tests.helpdesk.mail.conftest import Desk, SmtpServer, drain, mail_settings


def _article(desk: Desk, tmp_path: Path) -> int:
    with desk.sessions.begin() as session:
        demo.load(session)
        deployment = deploy_all(session, desk.pm, by="test", workflows_dir=tmp_path)
        assert not deployment.problems, deployment.problems
        category = session.scalars(select(Category).filter_by(slug="network")).one()
        article = Article(
            title="Reset your VPN token", category_id=category.id, visibility="public",
            status="published", body="Open the self-service page.",
        )  # fmt: skip
        session.add(article)
        session.flush()
        return article.id


def test_a_request_closed_by_self_help_mails_nobody(
    desk: Desk, smtp: SmtpServer, tmp_path: Path
) -> None:
    article = _article(desk, tmp_path)
    alice = desk.person("noor.haddad@example.org", "Noor Haddad")
    types = unique_by(desk.pm, "tierflow_register_request_types", "name", expect=RequestType)
    given = SelfHelpInput(alice, "incident", "key-1", article, "My VPN token expired")
    closed = close_by_self_help(desk.sessions, desk.pm, types, given)
    received = desk.ticket(alice, "The printer jams")

    drain(desk.sender(mail_settings(smtp.port)))

    assert [row.work_item_id for row in desk.outbox()] == [received]
    assert closed not in {row.work_item_id for row in desk.outbox()}
    assert [str(mail["Subject"]) for mail in smtp.wait_for(1)] == [
        f"[INC-{received:05d}] We received your request: The printer jams"
    ]
