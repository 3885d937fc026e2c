"""Satisfaction results by team and by agent over a period, as far as the viewer may see them.

Each line has the answers (how many, the average, the share satisfied, the
count per rating) and the response rate: of the requests resolved in the
period that could be rated (tickets with a requester, not closed by
self-help), how many were. Ratings of 1 or 2 are listed as needing
follow-up. Managers and administrators see every line; a team lead sees the
teams they lead and the people in them (:class:`Scope`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from engine.model import Membership, Person, Team, WorkItem
from engine.model.base import utcnow
from engine.web.access import Viewer
from plugins.helpdesk.facts import TICKET
from plugins.helpdesk.kb.models import SelfHelp
from plugins.helpdesk.models import Ticket
from plugins.helpdesk.survey.models import SurveyResponse
from plugins.helpdesk.survey.service import ANSWERABLE, LOW

PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}
"""The periods the results page offers, in days (``all``: since the first answer)."""
SATISFIED = 4
"""A rating of at least this counts as satisfied."""
NOBODY = "(nobody recorded)"
Pair = tuple[int | None, int | None]
"""A (team id, agent id) a rating or a resolved request counts for."""


@dataclass(frozen=True)
class Scope:
    """Whose results a viewer sees: everything, or some teams' and some people's."""

    everything: bool = False
    team_ids: frozenset[int] = frozenset()
    agent_ids: frozenset[int] = frozenset()

    def sees(self, pair: Pair) -> bool:
        team, agent = pair
        return self.everything or team in self.team_ids or agent in self.agent_ids

    def where(self, team: ColumnElement, agent: ColumnElement) -> ColumnElement[bool]:
        """The same test as a SQL condition on a team column and an agent column."""
        if self.everything:
            return true()
        if not self.team_ids and not self.agent_ids:
            return false()
        return or_(team.in_(self.team_ids), agent.in_(self.agent_ids))


EVERYTHING = Scope(everything=True)


def scope_for(session: Session, viewer: Viewer) -> Scope | None:
    """Managers and administrators see everything; a team lead their teams and their people.

    ``None``: nothing (an agent who leads no team, anyone else).
    """
    if viewer.is_admin or viewer.has("manager"):
        return EVERYTHING
    if not viewer.is_agent or viewer.person_id is None:
        return None
    led = set(
        session.scalars(
            select(Membership.team_id).filter_by(person_id=viewer.person_id, role="lead")
        )
    )
    if not led:
        return None
    members = session.scalars(select(Membership.person_id).where(Membership.team_id.in_(led)))
    return Scope(team_ids=frozenset(led), agent_ids=frozenset(members))


@dataclass(frozen=True)
class Line:
    """The answers and the response rate of one team or agent (or of all)."""

    name: str
    answers: int
    average: float
    satisfied_percent: int
    counts: tuple[int, ...]
    """How many answers gave 1, 2, 3, 4 and 5."""
    resolved: int = 0
    """Requests resolved in the period that could be rated."""
    rated: int = 0
    """How many of those have been rated."""

    @property
    def response_percent(self) -> int | None:
        """The share of :attr:`resolved` that was rated; ``None`` when nothing was resolved."""
        return round(100 * self.rated / self.resolved) if self.resolved else None


@dataclass(frozen=True)
class Remark:
    """A rating with its ticket: a recent comment, or a low rating to follow up."""

    reference: str
    work_item_id: int
    rating: int
    comment: str
    at: datetime
    team: str = ""
    agent: str = ""


@dataclass(frozen=True)
class Results:
    overall: Line
    teams: tuple[Line, ...]
    agents: tuple[Line, ...]
    remarks: tuple[Remark, ...]
    follow_up: tuple[Remark, ...] = field(default_factory=tuple)
    """Ratings of 1 or 2 ("needs follow-up"), newest first."""


EMPTY = Line("All", 0, 0.0, 0, (0, 0, 0, 0, 0))


def since(period: str, now: datetime | None = None) -> datetime | None:
    """The start of ``period`` (a key of :data:`PERIODS`; unknown ones mean 90 days)."""
    days = PERIODS.get(period, 90)
    return None if days is None else (now or utcnow()) - timedelta(days=days)


def results(
    session: Session,
    start: datetime | None,
    remarks: int = 20,
    scope: Scope = EVERYTHING,
    until: datetime | None = None,
) -> Results:
    """Answers from ``start`` (``None``: all) up to ``until`` that ``scope`` sees, with rates."""
    window = _window(SurveyResponse.answered_at, start, until)
    answers = {p: c for p, c in _answer_counts(session, window).items() if scope.sees(p)}
    rates = {p: r for p, r in _rates(session, start, until).items() if scope.sees(p)}
    names = _names(session, answers.keys() | rates.keys())
    teams = scope.team_ids if not scope.everything else None
    agents = scope.agent_ids if not scope.everything else None
    mine = scope.where(SurveyResponse.team_id, SurveyResponse.agent_id)
    return Results(
        overall=next(iter(_rolled(answers, rates, lambda _: None, {None: "All"}, None)), EMPTY),
        teams=tuple(_rolled(answers, rates, lambda p: p[0], names[0], teams)),
        agents=tuple(_rolled(answers, rates, lambda p: p[1], names[1], agents)),
        remarks=tuple(_rated(session, [*window, mine, SurveyResponse.comment != ""], remarks)),
        follow_up=tuple(_rated(session, [*window, mine, SurveyResponse.rating <= LOW], 100)),
    )


def _window(column: ColumnElement, start: datetime | None, until: datetime | None) -> list:
    return [
        *([] if start is None else [column >= start]),
        *([] if until is None else [column < until]),
    ]


def _answer_counts(session: Session, window: list) -> dict[Pair, list[int]]:
    """Answers per (team, agent), counted per rating."""
    count = func.count(SurveyResponse.id)
    keys = (SurveyResponse.team_id, SurveyResponse.agent_id, SurveyResponse.rating)
    found: dict[Pair, list[int]] = {}
    for team, agent, rating, n in session.execute(
        select(*keys, count).where(*window).group_by(*keys)
    ):
        found.setdefault((team, agent), [0] * 5)[rating - 1] += n
    return found


def _rates(
    session: Session, start: datetime | None, until: datetime | None
) -> dict[Pair, tuple[int, int]]:
    """Requests resolved in the period that could be rated, and how many were, per pair."""
    resolved_at = func.coalesce(Ticket.resolved_at, WorkItem.closed_at, WorkItem.updated_at)
    team = func.coalesce(SurveyResponse.team_id, Ticket.resolving_team_id)
    agent = func.coalesce(SurveyResponse.agent_id, Ticket.resolved_by_id)
    self_help = exists(select(SelfHelp.id).where(SelfHelp.work_item_id == WorkItem.id))
    query = (
        select(team, agent, func.count(WorkItem.id), func.count(SurveyResponse.id))
        .outerjoin(Ticket, Ticket.work_item_id == WorkItem.id)
        .outerjoin(SurveyResponse, SurveyResponse.work_item_id == WorkItem.id)
        .where(
            WorkItem.kind == TICKET,
            WorkItem.status.in_(ANSWERABLE),
            WorkItem.requester_id.is_not(None),
            ~self_help,
            *_window(resolved_at, start, until),
        )
        .group_by(team, agent)
    )
    return {(t, a): (int(n), int(r)) for t, a, n, r in session.execute(query)}


def _names(
    session: Session, pairs: Iterable[Pair]
) -> tuple[dict[int | None, str], dict[int | None, str]]:
    """The names of the teams and of the people ``pairs`` name (``None``: nobody recorded)."""
    pairs = list(pairs)
    team_ids = {t for t, _ in pairs if t is not None}
    agent_ids = {a for _, a in pairs if a is not None}
    teams = dict(
        session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).tuples().all()
    )
    agents = dict(
        session.execute(select(Person.id, Person.name).where(Person.id.in_(agent_ids)))
        .tuples()
        .all()
    )
    return {None: NOBODY, **teams}, {None: NOBODY, **agents}


def _rolled(
    answers: Mapping[Pair, list[int]],
    rates: Mapping[Pair, tuple[int, int]],
    key: Callable[[Pair], int | None],
    names: Mapping[int | None, str],
    shown: frozenset[int] | None,
) -> list[Line]:
    """One line per ``key(pair)`` (only those in ``shown`` unless it is ``None``), most answers
    first."""
    counts: dict[int | None, list[int]] = {}
    rated: dict[int | None, list[int]] = {}
    for pair, per_rating in answers.items():
        into = counts.setdefault(key(pair), [0] * 5)
        into[:] = [a + b for a, b in zip(into, per_rating, strict=True)]
    for pair, (n, r) in rates.items():
        into = rated.setdefault(key(pair), [0, 0])
        into[0], into[1] = into[0] + n, into[1] + r
    lines = [
        _line(names.get(group, NOBODY), tuple(counts.get(group, [0] * 5)),
              *rated.get(group, [0, 0]))
        for group in counts.keys() | rated.keys()
        if shown is None or group in shown
    ]  # fmt: skip
    return sorted(lines, key=lambda line: (-line.answers, -line.resolved, line.name))


def _rated(session: Session, where: list, limit: int) -> list[Remark]:
    """Ratings (with their ticket, team and agent) matching ``where``, newest first."""
    agent = aliased(Person)
    rows = session.execute(
        select(WorkItem.reference, WorkItem.id, SurveyResponse.rating, SurveyResponse.comment,
               SurveyResponse.answered_at, Team.name, agent.name)
        .join(WorkItem, WorkItem.id == SurveyResponse.work_item_id)
        .outerjoin(Team, Team.id == SurveyResponse.team_id)
        .outerjoin(agent, agent.id == SurveyResponse.agent_id)
        .where(*where)
        .order_by(SurveyResponse.answered_at.desc(), SurveyResponse.id.desc())
        .limit(limit)
    ).all()  # fmt: skip
    return [
        Remark(ref or f"#{id_}", id_, rating, comment, at, team or "", who or "")
        for ref, id_, rating, comment, at, team, who in rows
    ]


def _line(name: str, counts: tuple[int, ...], resolved: int = 0, rated: int = 0) -> Line:
    answers = sum(counts)
    total = sum(rating * count for rating, count in enumerate(counts, start=1))
    happy = sum(counts[SATISFIED - 1 :])
    return Line(
        name,
        answers,
        round(total / answers, 2) if answers else 0.0,
        round(100 * happy / answers) if answers else 0,
        counts,
        resolved,
        rated,
    )
