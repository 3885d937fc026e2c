"""Inbound e-mail: mail to the help desk becomes tickets and comments (see docs/inbound-email.md).

Two transports, an SMTP listener (:mod:`.smtp`) and IMAP polling
(:mod:`.imap`), feed one processing core (:mod:`.process`). This module hands
the part's contributions to the help desk plugin (``plugin.py`` PARTS).
"""

from __future__ import annotations

from engine.contrib import SettingsSection
from plugins.helpdesk.inbound import models
from plugins.helpdesk.inbound.service import commands, services
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.inbound.views import NAVIGATION, ROUTES, sections

MODELS = [models]
SETTINGS = [
    SettingsSection(
        "inbound", InboundSettings, "Inbound e-mail: the SMTP listener and IMAP polling."
    )
]

__all__ = ["MODELS", "NAVIGATION", "ROUTES", "SETTINGS", "commands", "sections", "services"]
