"""Knowledge base: articles, search, self-help at intake (see plugins/helpdesk/plugin.py PARTS)."""

from plugins.helpdesk.kb import models

MODELS = [models]
