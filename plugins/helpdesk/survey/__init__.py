"""Satisfaction survey: a requester rates a resolved ticket once (1-5 and a comment).

Wired by plugins/helpdesk/plugin.py (PARTS): its table, the rating page, the
results page for team leads and managers, the panel on the requester's ticket page,
and the "Satisfaction" report (``REPORTS``).
"""

from __future__ import annotations

from plugins.helpdesk.survey import models, reports
from plugins.helpdesk.survey.views import NAVIGATION, ROUTES, sections

MODELS = [models]
REPORTS = reports.REPORTS

__all__ = ["MODELS", "NAVIGATION", "REPORTS", "ROUTES", "sections"]
