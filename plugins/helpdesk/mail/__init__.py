"""Outbound e-mail to requesters through an outbox (see plugins/helpdesk/plugin.py PARTS).

Every update a ticket's requester should hear about gets one outbox row, in
the transaction that records it (:mod:`.compose`); a service started by
``tierflow serve`` and ``tierflow worker`` sends the rows over SMTP
(:mod:`.sender`), retrying with backoff; admins watch and retry them at
``/helpdesk/admin/mail`` (:mod:`.views`). See docs/email.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from engine.config import Settings
from engine.contrib import Service, SettingsSection
from engine.model import Event, WorkItem
from engine.plugins import PluginManager
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.mail import compose, models
from plugins.helpdesk.mail.links import ROUTES as LINK_ROUTES
from plugins.helpdesk.mail.links import link_extras
from plugins.helpdesk.mail.outbox import Claimed
from plugins.helpdesk.mail.replies import reply_problem, with_reply_to
from plugins.helpdesk.mail.sender import Runner, Sender
from plugins.helpdesk.mail.settings import MailSettings
from plugins.helpdesk.mail.views import NAVIGATION
from plugins.helpdesk.mail.views import ROUTES as ADMIN_ROUTES
from plugins.helpdesk.survey.service import survey_url

MODELS = [models]
ROUTES = [*ADMIN_ROUTES, *LINK_ROUTES]
SETTINGS = [SettingsSection("mail", MailSettings, "Outbound e-mail to requesters (SMTP)")]

__all__ = [
    "MODELS", "NAVIGATION", "ROUTES", "SETTINGS", "mail_extras", "on_event", "services",
    "survey_extras",
]  # fmt: skip


def on_event(event: Event, session: Session, pm: PluginManager) -> None:
    """Queue the mail an event calls for (in the event's own transaction)."""
    compose.on_event(event, session)


def services(
    settings: Settings, pm: PluginManager, sessions: sessionmaker[Session], client: Client
) -> list[Service]:
    """The outbox sender, started by ``tierflow serve`` and ``tierflow worker``."""
    inbound = settings.section("inbound", InboundSettings)
    mail = with_reply_to(settings.section("mail", MailSettings), inbound)
    extras = mail_extras(settings, mail, sessions)
    sender = Sender(sessions, mail, settings.data_dir, extras=extras)
    runner = Runner(sender, problem=reply_problem(mail, inbound))
    return [Service("outbound mail", runner.start, runner.stop)]


def mail_extras(
    settings: Settings, mail: MailSettings, sessions: sessionmaker[Session]
) -> Callable[[Claimed], dict[str, Any]]:
    """Template values computed per mail: the signed link to the request, the survey link."""
    links, survey = (
        link_extras(settings, mail.site_url, sessions),
        survey_extras(settings, mail, sessions),
    )
    return lambda claimed: {**links(claimed), **survey(claimed)}


def survey_extras(
    settings: Settings, mail: MailSettings, sessions: sessionmaker[Session]
) -> Callable[[Claimed], dict[str, Any]]:
    """Template values for the resolution mail: the signed link that asks for a rating."""

    def extras(claimed: Claimed) -> dict[str, Any]:
        if claimed.kind != "resolved":
            return {}
        with sessions() as session:
            item = session.get(WorkItem, claimed.work_item_id)
            if item is None or item.requester_id is None:
                return {}
            return {"survey_link": survey_url(settings, item, mail.site_url)}

    return extras
