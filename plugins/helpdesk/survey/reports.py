"""The satisfaction survey's report for the reports dashboard.

``compute(session, since=..., until=...)`` returns one row for all requests,
then one per team and one per person who resolved them: answers, average,
share satisfied and the response rate (see :mod:`.results`). Answers count
when they came in during the period, the response rate the requests resolved
in it. The filters are the help desk reports' own (:func:`plugins.helpdesk.kb.reports.period`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.contrib import ReportSpec
from plugins.helpdesk.kb.reports import period
from plugins.helpdesk.survey.results import Line, results

COLUMNS = (
    "group", "name", "answers", "average", "satisfied_percent",
    "resolved", "rated", "response_rate_percent",
)  # fmt: skip


def satisfaction_rows(session: Session, **filters: Any) -> list[dict[str, Any]]:
    """Satisfaction overall, per team and per agent, over the period the filters give."""
    since, until = period("helpdesk.satisfaction", filters)
    found = results(session, since, remarks=0, until=until)
    lines = [("all", found.overall)]
    lines += [("team", line) for line in found.teams]
    lines += [("agent", line) for line in found.agents]
    return [_row(group, line) for group, line in lines]


def _row(group: str, line: Line) -> dict[str, Any]:
    values = (
        group, line.name, line.answers, line.average, line.satisfied_percent,
        line.resolved, line.rated, line.response_percent,
    )  # fmt: skip
    return dict(zip(COLUMNS, values, strict=True))


REPORTS = [
    ReportSpec(
        "helpdesk.satisfaction",
        "Satisfaction",
        "Requesters' ratings (1-5) overall, per team and per person who resolved the request: "
        "average, share satisfied (4-5) and response rate. Filters: since, until (dates).",
        compute=satisfaction_rows,
        columns=COLUMNS,
    )
]
