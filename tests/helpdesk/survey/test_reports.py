"""The "Satisfaction" report: overall, per team and per agent, with the response rate.

Its ``compute`` is what the reports dashboard calls; called here on both
databases, over a period and over all time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from engine.model import utcnow
from plugins.helpdesk import survey
from plugins.helpdesk.kb.reports import ReportFilterError
from plugins.helpdesk.models import Ticket
from plugins.helpdesk.survey.models import SurveyResponse
from plugins.helpdesk.survey.reports import satisfaction_rows
from tests.helpdesk.survey.conftest import World


def test_satisfaction_per_team_and_agent_with_the_response_rate(
    world: World, session: Session, make_work_item
) -> None:
    now = utcnow()
    rated = [(world.desk, world.fixer, 5, 0), (world.network, world.other_fixer, 1, 0),
             (world.desk, world.fixer, 3, 200)]  # (team, agent, rating, days ago)  # fmt: skip
    for team, agent, rating, days in rated:
        when = now - timedelta(days=days)
        item = make_work_item(status="closed", requester_id=world.requester.id)
        session.add(
            Ticket(
                work_item_id=item.id,
                resolving_team_id=team.id,
                resolved_by_id=agent.id,
                resolved_at=when,
            )
        )
        session.add(SurveyResponse(work_item_id=item.id, rating=rating, team_id=team.id,
                                   agent_id=agent.id, answered_at=when))  # fmt: skip
    session.commit()

    month = satisfaction_rows(session, since=now - timedelta(days=30))
    # world.resolved (TIC-00001, Help desk, Fay Fixer) is resolved and not rated
    assert [tuple(row.values()) for row in month] == [
        ("all", "All", 2, 3.0, 50, 3, 2, 67),
        ("team", "Help desk", 1, 5.0, 100, 2, 1, 50),
        ("team", "Network experts", 1, 1.0, 0, 1, 1, 100),
        ("agent", "Fay Fixer", 1, 5.0, 100, 2, 1, 50),
        ("agent", 'Otto <script>alert("x")</script>', 1, 1.0, 0, 1, 1, 100),
    ]
    assert list(month[0]) == list(survey.REPORTS[0].columns)
    everything = satisfaction_rows(session)
    assert everything[0] == {
        "group": "all", "name": "All", "answers": 3, "average": 3.0, "satisfied_percent": 33,
        "resolved": 4, "rated": 3, "response_rate_percent": 75,
    }  # fmt: skip


def test_the_report_is_offered_and_empty_without_ratings(session: Session) -> None:
    [spec] = survey.REPORTS
    assert (spec.name, spec.title, spec.compute) == (
        "helpdesk.satisfaction", "Satisfaction", satisfaction_rows,
    )  # fmt: skip
    assert spec.compute(session, since="2026-01-01") == [
        {"group": "all", "name": "All", "answers": 0, "average": 0.0, "satisfied_percent": 0,
         "resolved": 0, "rated": 0, "response_rate_percent": None},
    ]  # fmt: skip
    with pytest.raises(ReportFilterError, match=r"report 'helpdesk\.satisfaction' takes"):
        spec.compute(session, agent="fay")
