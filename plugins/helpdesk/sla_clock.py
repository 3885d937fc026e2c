"""An SLA clock recomputed from a ticket's events alone (and the calendar they name).

Pure: no database, no clock but the ``now`` given. The live actions
(:mod:`plugins.helpdesk.sla`) record what happens as events; :func:`recompute`
replays them into a :class:`ClockState`, so every deadline, pause, warning and
breach can be audited, and :func:`segments` gives the business minutes each
team held the ticket (the per-tier OLA view).

What the clock reads (from the last ``sla_started`` on):

- ``sla_started`` {start, response_minutes, resolution_minutes, warn_percent, ...}
- ``sla_paused`` / ``sla_resumed``: every running target is held meanwhile;
  its deadline and warning move by the paused business time, unless they had
  already passed when the pause began (a breach stands);
- ``first_response`` (or ``sla_met`` response) stops the response target,
  also when it came before the clock started (a call an agent logged);
  ``resolved`` (or ``sla_met`` resolution) stops both; ``reopened`` starts
  the resolution target again, the resolved time held like a pause;
- ``sla_stopped`` stops every target; ``sla_warning``/``sla_breached`` are
  what the live clock recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from plugins.helpdesk.calendar import Hours, add_business_time, business_time

TARGETS = ("response", "resolution")


class EventLike(Protocol):
    """What the clock needs of an event (an ``Event`` row or a test's stand-in)."""

    type: str
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class Fact:
    """A plain event, for tests and for events not yet written."""

    type: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """One target (response or resolution) of a running or finished clock."""

    name: str
    minutes: int
    due: datetime
    """The deadline; while held, as it would be if the hold ended now."""
    warn_at: datetime
    stopped_at: datetime | None = None
    held_since: datetime | None = None
    held: tuple[tuple[datetime, datetime], ...] = ()
    warned: bool = False
    """An ``sla_warning`` was recorded."""
    breach_recorded: bool = False
    """An ``sla_breached`` was recorded."""

    @property
    def running(self) -> bool:
        return self.stopped_at is None and self.held_since is None


@dataclass(frozen=True)
class ClockState:
    """Everything the events say about a ticket's SLA clock at ``now``."""

    now: datetime
    started: bool = False
    start: datetime | None = None
    policy_id: int | None = None
    policy: str = ""
    calendar: str = ""
    warn_percent: int = 0
    targets: dict[str, Target] = field(default_factory=dict)
    pauses: tuple[tuple[datetime, datetime | None, str], ...] = ()
    stopped_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    def elapsed(self, hours: Hours, name: str) -> int:
        """Business minutes the target has counted (held time left out)."""
        target = self.targets[name]
        assert self.start is not None
        end = target.stopped_at or self.now
        held = sum(
            (business_time(hours, a, min(b, end)) for a, b in _holds(target, end)), timedelta(0)
        )
        return round((business_time(hours, self.start, end) - held).total_seconds() / 60)

    def breached(self, name: str) -> bool:
        """Whether the target missed (or, still running, has passed) its deadline."""
        target = self.targets[name]
        return (target.stopped_at or self.now) > target.due

    def met(self, name: str) -> bool | None:
        """True/False once the target stopped in time or late; None while it runs."""
        target = self.targets[name]
        if target.stopped_at is None:
            return None
        return target.stopped_at <= target.due

    def due(self) -> list[tuple[str, str, datetime]]:
        """Warnings and breaches due by ``now`` and not yet recorded: (kind, target, moment)."""
        found = []
        for target in self.targets.values():
            if not target.running or self.stopped_at is not None:
                continue
            if not target.breach_recorded and target.due <= self.now:
                found.append(("breached", target.name, target.due))
            if not target.warned and target.warn_at <= self.now:
                found.append(("warning", target.name, target.warn_at))
        return sorted(found, key=lambda each: each[2])

    def next_checkpoint(self) -> datetime | None:
        """The next warning or breach moment still to come for a running target."""
        moments = [
            moment
            for target in self.targets.values()
            if target.running and self.stopped_at is None
            for moment, done in (
                (target.warn_at, target.warned),
                (target.due, target.breach_recorded),
            )
            if not done and moment > self.now
        ]
        return min(moments, default=None)


def _holds(target: Target, end: datetime) -> list[tuple[datetime, datetime]]:
    held = list(target.held)
    if target.held_since is not None:
        held.append((target.held_since, end))
    return held


def _utc(text: Any, fallback: datetime) -> datetime:
    if not text:
        return fallback
    moment = datetime.fromisoformat(str(text))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def started_clock(hours: Hours, event: EventLike, now: datetime) -> ClockState:
    """The clock an ``sla_started`` event starts: targets from its start and minutes."""
    data = event.data
    start = _utc(data.get("start"), event.occurred_at)
    percent = int(data.get("warn_percent") or 0)
    targets = {}
    for name in TARGETS:
        minutes = int(data.get(f"{name}_minutes") or 0)
        warn = timedelta(minutes=minutes) * percent / 100
        targets[name] = Target(
            name,
            minutes,
            due=add_business_time(hours, start, timedelta(minutes=minutes)),
            warn_at=add_business_time(hours, start, warn),
        )
    return ClockState(
        now=now,
        started=True,
        start=start,
        policy_id=data.get("policy_id"),
        policy=str(data.get("policy") or ""),
        calendar=str(data.get("calendar") or ""),
        warn_percent=percent,
        targets=targets,
    )


def _hold(target: Target, at: datetime) -> Target:
    return replace(target, held_since=at) if target.running else target


def _release(hours: Hours, target: Target, at: datetime) -> Target:
    """End the target's hold at ``at``: checkpoints not yet passed move by the held time."""
    since = target.held_since
    if since is None:
        return target
    shift = business_time(hours, since, at)

    def moved(moment: datetime) -> datetime:
        return add_business_time(hours, moment, shift) if moment > since else moment

    return replace(
        target,
        due=moved(target.due),
        warn_at=moved(target.warn_at),
        held_since=None,
        held=(*target.held, (since, at)),
    )


def _stop(target: Target, at: datetime) -> Target:
    if target.stopped_at is not None:
        return target
    if target.held_since is not None:  # stopped while held: the hold ends there
        return replace(
            target, stopped_at=at, held_since=None, held=(*target.held, (target.held_since, at))
        )
    return replace(target, stopped_at=at)


def _apply(hours: Hours, clock: ClockState, event: EventLike) -> ClockState:
    at, kind = event.occurred_at.astimezone(UTC), event.type
    data = event.data or {}
    targets = dict(clock.targets)
    if kind == "sla_paused" and not clock.paused and clock.stopped_at is None:
        targets = {name: _hold(t, at) for name, t in targets.items()}
        pause = (at, None, str(data.get("reason") or ""))
        return replace(clock, targets=targets, pauses=(*clock.pauses, pause))
    if kind == "sla_resumed" and clock.paused:
        begun, _, reason = clock.pauses[-1]
        targets = {
            name: _release(hours, t, at) if t.held_since == begun else t
            for name, t in targets.items()
        }
        return replace(clock, targets=targets, pauses=(*clock.pauses[:-1], (begun, at, reason)))
    if kind in ("first_response", "sla_met", "resolved"):
        names = {"first_response": ["response"], "resolved": list(TARGETS)}.get(
            kind, [str(data.get("target"))]
        )
        for name in names:
            if name in targets:
                targets[name] = _stop(targets[name], at)
    elif kind == "reopened" and "resolution" in targets and clock.stopped_at is None:
        target = targets["resolution"]
        if target.stopped_at is not None:
            since = target.stopped_at
            held = replace(target, stopped_at=None, held_since=since)
            targets["resolution"] = _release(hours, held, at)
    elif kind == "sla_stopped" and clock.stopped_at is None:
        targets = {name: _stop(t, at) for name, t in targets.items()}
        pauses = clock.pauses
        if clock.paused:
            begun, _, reason = pauses[-1]
            pauses = (*pauses[:-1], (begun, at, reason))
        return replace(clock, targets=targets, pauses=pauses, stopped_at=at)
    elif kind in ("sla_warning", "sla_breached") and data.get("target") in targets:
        name = str(data["target"])
        flag = "warned" if kind == "sla_warning" else "breach_recorded"
        targets[name] = replace(targets[name], **{flag: True})
    return replace(clock, targets=targets)


def recompute(events: Iterable[EventLike], hours: Hours, now: datetime) -> ClockState:
    """The clock as the events (in the order they happened) say it is at ``now``.

    Targets still held (paused) show the deadlines they would have if the
    hold ended at ``now``.
    """
    ordered = list(events)
    starts = [number for number, event in enumerate(ordered) if event.type == "sla_started"]
    if not starts:
        return ClockState(now=now)
    clock = started_clock(hours, ordered[starts[-1]], now)
    assert clock.start is not None
    answered = [  # a response before the start (a call logged) counts from the start
        Fact(e.type, max(e.occurred_at.astimezone(UTC), clock.start))
        for e in ordered[: starts[-1]]
        if e.type == "first_response"
    ]
    for event in [*answered[:1], *ordered[starts[-1] + 1 :]]:
        if event.occurred_at.astimezone(UTC) > now:
            break
        clock = _apply(hours, clock, event)
    targets = {
        name: _release(hours, t, now) if t.held_since is not None else t
        for name, t in clock.targets.items()
    }
    # the projection moves deadlines only; the target is still held
    targets = {
        name: replace(t, held_since=clock.targets[name].held_since, held=clock.targets[name].held)
        for name, t in targets.items()
    }
    return replace(clock, targets=targets)


# ----------------------------------------------------------- per-tier segments ---


@dataclass(frozen=True)
class Segment:
    """A stretch during which one team held the ticket, and its business minutes."""

    team: str
    start: datetime
    end: datetime
    minutes: int


def segments(events: Sequence[EventLike], hours: Hours, now: datetime) -> list[Segment]:
    """Who held the ticket when, from ``team_changed`` events, in business minutes.

    A segment runs from a team receiving the ticket to the next change, and the
    last one to the end of the clock (``sla_stopped``, the resolution, or
    ``now``). Paused time (``sla_paused`` .. ``sla_resumed``) is left out.
    """
    clock = recompute(events, hours, now)
    end = clock.stopped_at or now
    resolution = clock.targets.get("resolution")
    if resolution is not None and resolution.stopped_at is not None:
        end = min(end, resolution.stopped_at)
    changes = [
        (e.occurred_at.astimezone(UTC), e.data.get("to"))
        for e in events
        if e.type == "team_changed" and e.occurred_at.astimezone(UTC) <= end
    ]
    pauses = [(a, b or end) for a, b, _ in clock.pauses]
    found = []
    for number, (begun, team) in enumerate(changes):
        if not team:
            continue
        finish = changes[number + 1][0] if number + 1 < len(changes) else end
        total = business_time(hours, begun, finish)
        for a, b in pauses:
            if b > begun and a < finish:
                total -= business_time(hours, max(a, begun), min(b, finish))
        found.append(Segment(str(team), begun, finish, round(total.total_seconds() / 60)))
    return found


def minutes_by_team(found: Iterable[Segment]) -> dict[str, int]:
    """Business minutes per team over all its segments."""
    totals: dict[str, int] = {}
    for segment in found:
        totals[segment.team] = totals.get(segment.team, 0) + segment.minutes
    return totals
