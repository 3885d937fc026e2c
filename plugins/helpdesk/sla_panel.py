"""The SLA on a ticket's page: the clock for staff, a plain promise for the requester.

Staff see the policy, each target's deadline (in business time of the
policy's calendar), whether it is running, paused, met, warned or breached,
and the business minutes each team held the ticket (the per-tier OLA view,
:func:`plugins.helpdesk.sla_clock.segments`). The requester reads one line:
"We aim to respond by … and to resolve it by …". Everything is computed from
the ticket's events (:func:`plugins.helpdesk.sla.clock_of`); the templates
only print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.contrib import ItemSection
from engine.model import Team, WorkItem
from engine.web.timeline import Moment, moment
from plugins.helpdesk.calendar import Hours
from plugins.helpdesk.sla import clock_of, events_of
from plugins.helpdesk.sla_clock import ClockState, minutes_by_team, segments

LABELS = {"response": "Response", "resolution": "Resolution"}


@dataclass(frozen=True)
class TargetRow:
    """One target as staff read it: its size, deadline and state in words."""

    label: str
    size: str
    due: Moment
    state: str
    warned: bool
    breached: bool


@dataclass(frozen=True)
class TeamTime:
    """Business time one team held the ticket."""

    team: str
    used: str


@dataclass(frozen=True)
class StaffView:
    """The SLA panel for staff."""

    policy: str
    clock: str
    targets: list[TargetRow]
    teams: list[TeamTime]


def duration(minutes: int) -> str:
    """Business minutes in words: ``45 min``, ``2 h``, ``3 h 15 min``."""
    hours, rest = divmod(max(minutes, 0), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def clock_words(clock: ClockState) -> str:
    """Running, paused (with its reason) or stopped."""
    if clock.stopped_at is not None:
        return f"Stopped {moment(clock.stopped_at).text}"
    if clock.paused:
        since, _, reason = clock.pauses[-1]
        why = f" (waiting on the {reason})" if reason else ""
        return f"Paused since {moment(since).text}{why}"
    return "Running"


def target_rows(clock: ClockState) -> list[TargetRow]:
    """Each target: business-time size, due moment, and running/met/late/warned in words."""
    rows = []
    for name, target in clock.targets.items():
        met = clock.met(name)
        breached = clock.breached(name) or target.breach_recorded
        if met is True:
            state = f"Met {moment(target.stopped_at).text}" if target.stopped_at else "Met"
        elif met is False:
            state = "Missed (breached)"
        elif breached:
            state = "Breached, still open"
        elif target.held_since is not None:
            state = "Paused"
        else:
            state = "Warned, running" if target.warned else "Running"
        rows.append(
            TargetRow(
                LABELS.get(name, name),
                f"{duration(target.minutes)} business time",
                moment(target.due),
                state,
                target.warned,
                breached,
            )
        )
    return rows


def staff_view(session: Session, item: WorkItem, now: datetime) -> StaffView | None:
    """The staff panel of ``item`` at ``now``; ``None`` when it has no SLA clock."""
    clock, hours = clock_of(session, item.id, now)
    if not clock.started or hours is None:
        return None
    return StaffView(
        policy=f"{clock.policy} (calendar {clock.calendar})",
        clock=clock_words(clock),
        targets=target_rows(clock),
        teams=team_times(session, item, hours, now),
    )


def team_times(session: Session, item: WorkItem, hours: Hours, now: datetime) -> list[TeamTime]:
    """Business time per team (paused time left out), by team name, in the order they held it."""
    used = minutes_by_team(segments(events_of(session, item.id), hours, now))
    names = dict(
        session.execute(select(Team.slug, Team.name).where(Team.slug.in_(used))).tuples().all()
    )
    return [TeamTime(names.get(slug, slug), duration(minutes)) for slug, minutes in used.items()]


def promise(clock: ClockState) -> str | None:
    """The requester's line: what we aim for, in plain words; ``None`` when nothing is promised."""
    if not clock.started or clock.stopped_at is not None:
        return None
    response, resolution = clock.targets["response"], clock.targets["resolution"]
    if resolution.stopped_at is not None:
        return None
    if clock.paused:
        return "We are waiting for your answer; our clock is paused until you reply."
    resolve = f"to resolve it by {moment(resolution.due).text}"
    if response.stopped_at is None:
        return f"We aim to respond by {moment(response.due).text} and {resolve}."
    return f"We aim {resolve}."


def sla_sections(item: WorkItem, staff: bool, session: Session, now: datetime) -> list[ItemSection]:
    """The SLA panel: the clock for staff, the promise for anybody else who may see the ticket."""
    if staff:
        view = staff_view(session, item, now)
        if view is None:
            return []
        return [ItemSection("Service level", "helpdesk/sla_ticket.html", {"sla": view}, order=9)]
    clock, _ = clock_of(session, item.id, now)
    line = promise(clock)
    if line is None:
        return []
    return [ItemSection("Our aim", "helpdesk/sla_promise.html", {"line": line}, order=9)]
