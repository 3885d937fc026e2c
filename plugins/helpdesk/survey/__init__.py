"""Satisfaction survey: a requester rates a resolved ticket once (1-5 and a comment).

Wired by plugins/helpdesk/plugin.py (PARTS): its table, the rating page, the
results page for managers and the panel on the requester's ticket page.
"""

from __future__ import annotations

from plugins.helpdesk.survey import models
from plugins.helpdesk.survey.views import NAVIGATION, ROUTES, sections

MODELS = [models]

__all__ = ["MODELS", "NAVIGATION", "ROUTES", "sections"]
