"""Satisfaction results by team and by agent, over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.model import Person, Team, WorkItem
from engine.model.base import utcnow
from plugins.helpdesk.survey.models import SurveyResponse

PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}
"""The periods the results page offers, in days (``all``: since the first answer)."""
SATISFIED = 4
"""A rating of at least this counts as satisfied."""


@dataclass(frozen=True)
class Line:
    """The answers of one team or agent."""

    name: str
    answers: int
    average: float
    satisfied_percent: int
    counts: tuple[int, ...]
    """How many answers gave 1, 2, 3, 4 and 5."""


@dataclass(frozen=True)
class Remark:
    """A recent comment, for managers."""

    reference: str
    work_item_id: int
    rating: int
    comment: str
    at: datetime


@dataclass(frozen=True)
class Results:
    overall: Line
    teams: tuple[Line, ...]
    agents: tuple[Line, ...]
    remarks: tuple[Remark, ...]


def since(period: str, now: datetime | None = None) -> datetime | None:
    """The start of ``period`` (a key of :data:`PERIODS`; unknown ones mean 90 days)."""
    days = PERIODS.get(period, 90)
    return None if days is None else (now or utcnow()) - timedelta(days=days)


def results(session: Session, start: datetime | None, remarks: int = 20) -> Results:
    """Answers since ``start`` (``None``: all): overall, by team, by agent, latest comments."""
    window = [] if start is None else [SurveyResponse.answered_at >= start]
    overall = _lines(session, None, window)
    teams = _lines(session, (SurveyResponse.team_id, Team.name), window)
    agents = _lines(session, (SurveyResponse.agent_id, Person.name), window)
    latest = session.execute(
        select(WorkItem.reference, WorkItem.id, SurveyResponse.rating, SurveyResponse.comment,
               SurveyResponse.answered_at)
        .join(WorkItem, WorkItem.id == SurveyResponse.work_item_id)
        .where(SurveyResponse.comment != "", *window)
        .order_by(SurveyResponse.answered_at.desc(), SurveyResponse.id.desc())
        .limit(remarks)
    ).all()  # fmt: skip
    return Results(
        overall=overall[0] if overall else Line("All", 0, 0.0, 0, (0, 0, 0, 0, 0)),
        teams=tuple(teams),
        agents=tuple(agents),
        remarks=tuple(Remark(ref or f"#{id_}", id_, r, c, at) for ref, id_, r, c, at in latest),
    )


def _lines(session: Session, by: tuple | None, window: list) -> list[Line]:
    """One line per group (``by`` = (key column, name column)), or one overall line."""
    columns = [SurveyResponse.rating, func.count(SurveyResponse.id)]
    query = select(*columns).where(*window).group_by(SurveyResponse.rating)
    if by is not None:
        key, name = by
        query = (
            select(key, name, *columns)
            .outerjoin(name.class_, name.class_.id == key)
            .where(*window)
            .group_by(key, name, SurveyResponse.rating)
        )
    counts: dict[tuple[object, str], list[int]] = {}
    for row in session.execute(query).all():
        *group, rating, count = row
        label = "All" if by is None else (group[1] or "(nobody recorded)")
        counts.setdefault((group[0] if group else None, label), [0] * 5)[rating - 1] += count
    lines = [_line(label, tuple(per_rating)) for (_key, label), per_rating in counts.items()]
    return sorted(lines, key=lambda line: (-line.answers, line.name))


def _line(name: str, counts: tuple[int, ...]) -> Line:
    answers = sum(counts)
    total = sum(rating * count for rating, count in enumerate(counts, start=1))
    happy = sum(counts[SATISFIED - 1 :])
    return Line(
        name,
        answers,
        round(total / answers, 2) if answers else 0.0,
        round(100 * happy / answers) if answers else 0,
        counts,
    )
