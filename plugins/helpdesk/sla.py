"""SLA policies and the live clock's actions: start, pause, resume, tick, stop.

Every change is an event on the ticket (``sla_started``, ``sla_paused``,
``sla_resumed``, ``sla_warning``, ``sla_breached``, ``sla_met``,
``sla_stopped``); the deadlines are also written to the ticket's
:class:`~plugins.helpdesk.models.Ticket` row for reports. What the events say
is recomputed by :func:`plugins.helpdesk.sla_clock.recompute`; the actions
use the same function, so live and recomputed clocks cannot disagree.

A workflow runs the clock beside its own steps (see docs/helpdesk.md):
``helpdesk.sla_start`` with ``beside: sla_clock``, and a loop of
``helpdesk.sla_tick`` and ``wait: {until: ...}`` that records warnings and
breaches when they come due and tells the workflow, which decides what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.contrib import ActionInput
from engine.events import event_time, record_event
from engine.model import Event, WorkItem
from engine.plugins import PluginManager
from plugins.helpdesk.calendar import CalendarError, Hours, add_business_time
from plugins.helpdesk.facts import TICKET, is_response
from plugins.helpdesk.models import Calendar, SlaPolicy, ticket_row
from plugins.helpdesk.sla_clock import TARGETS, ClockState, recompute, started_clock

SLA_EVENTS = ("sla_started", "sla_paused", "sla_resumed", "sla_warning", "sla_breached")


# ------------------------------------------------------------------ look-ups ---


def select_policy(
    session: Session, request_type: str | None, priority: int | None
) -> SlaPolicy | None:
    """The most specific active policy: type and priority > type > priority > default."""
    rank = case(
        (SlaPolicy.request_type.is_not(None) & SlaPolicy.priority.is_not(None), 0),
        (SlaPolicy.request_type.is_not(None), 1),
        (SlaPolicy.priority.is_not(None), 2),
        else_=3,
    )
    query = (
        select(SlaPolicy)
        .where(SlaPolicy.active)
        .where(or_(SlaPolicy.request_type.is_(None), SlaPolicy.request_type == request_type))
        .where(or_(SlaPolicy.priority.is_(None), SlaPolicy.priority == priority))
        .order_by(rank, SlaPolicy.id)
        .limit(1)
    )
    return session.scalars(query).first()


def hours_of(session: Session, slug: str) -> Hours:
    """The business hours of the calendar ``slug`` (its days off included)."""
    calendar = session.scalars(
        select(Calendar).filter_by(slug=slug).options(selectinload(Calendar.days_off))
    ).one_or_none()
    if calendar is None:
        raise CalendarError(f"there is no calendar '{slug}' (an SLA event names it)")
    return Hours.of(calendar)


def events_of(session: Session, work_item_id: int) -> list[Event]:
    """The ticket's events in the order they happened."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.work_item_id == work_item_id)
            .order_by(Event.occurred_at, Event.id)
        )
    )


def clock_of(session: Session, work_item_id: int, now: datetime) -> tuple[ClockState, Hours | None]:
    """The ticket's clock at ``now``, recomputed from its events, and its calendar."""
    events = events_of(session, work_item_id)
    started = [e for e in events if e.type == "sla_started"]
    if not started:
        return ClockState(now=now), None
    hours = hours_of(session, str(started[-1].data.get("calendar")))
    return recompute(events, hours, now), hours


def write_ticket(session: Session, work_item_id: int, clock: ClockState) -> None:
    """Copy the clock's deadlines and breaches to the ticket's facts row."""
    if not clock.started:
        return
    row = ticket_row(session, work_item_id)
    row.sla_policy_id = clock.policy_id
    row.response_due_at = clock.targets["response"].due
    row.resolution_due_at = clock.targets["resolution"].due
    row.response_breached = clock.breached("response") or clock.targets["response"].breach_recorded
    row.resolution_breached = (
        clock.breached("resolution") or clock.targets["resolution"].breach_recorded
    )


def summary(clock: ClockState) -> dict[str, Any]:
    """What the actions return to the workflow (``vars.sla``): ISO UTC times and flags."""
    if not clock.started:
        return {"started": False, "paused": False, "response_due": None, "resolution_due": None}
    out: dict[str, Any] = {
        "started": True,
        "policy_id": clock.policy_id,
        "policy": clock.policy,
        "calendar": clock.calendar,
        "paused": clock.paused,
        "stopped": clock.stopped_at is not None,
    }
    for name, target in clock.targets.items():
        out[f"{name}_due"] = iso(target.due)
        out[f"{name}_warn"] = iso(target.warn_at)
        out[f"{name}_breached"] = clock.breached(name)
    return out


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# -------------------------------------------------------------------- actions ---


def _bad(action: ActionInput, message: str) -> ApplicationError:
    return ApplicationError(
        f"step '{action.step_id}': {message}", type="BadArguments", non_retryable=True
    )


class SlaActions:
    """The SLA actions workflows call (Temporal activities, idempotent by their key)."""

    def __init__(self, pm: PluginManager, sessions: sessionmaker[Session]) -> None:
        self.pm = pm
        self.sessions = sessions

    def _item(self, session: Session, action: ActionInput) -> WorkItem:
        item = session.get(WorkItem, action.work_item_id) if action.work_item_id else None
        if item is None:
            raise _bad(
                action, f"the SLA needs a ticket, and work item {action.work_item_id} is none"
            )
        return item

    def _record(
        self,
        session: Session,
        *,
        item: WorkItem,
        type: str,
        data: dict[str, Any],
        key: str,
        at: datetime,
    ) -> Event:
        return record_event(
            session, self.pm, work_item_id=item.id, type=type, data=data,
            team_id=item.current_team_id, key=key, at=at,
        )  # fmt: skip

    def _change(
        self, action: ActionInput, change: Callable[[Session, WorkItem, ClockState, datetime], None]
    ) -> ClockState:
        now = event_time()
        try:
            with self.sessions() as session, session.begin():
                item = self._item(session, action)
                clock, _ = clock_of(session, item.id, now)
                change(session, item, clock, now)
                after, _ = clock_of(session, item.id, now)
                write_ticket(session, item.id, after)
                return after
        except CalendarError as exc:
            raise _bad(action, str(exc)) from exc

    @activity.defn(name="helpdesk.sla_start")
    def sla_start(self, action: ActionInput) -> dict[str, Any]:
        """Start the clock from the ticket's creation (or ``with: {from: <time>}``).

        The policy is the most specific active one for the item's type and
        priority; with none, nothing starts and ``started`` is false.
        """

        def start(session: Session, item: WorkItem, clock: ClockState, now: datetime) -> None:
            policy = select_policy(session, item.type, item.priority)
            if policy is None:
                return
            begin = _moment(action, action.args.get("from")) or item.created_at.astimezone(UTC)
            hours = hours_of(session, policy.calendar.slug)
            data: dict[str, Any] = {
                "policy_id": policy.id, "policy": policy.name, "calendar": policy.calendar.slug,
                "start": iso(begin), "warn_percent": policy.warn_percent,
                "response_minutes": policy.response_minutes,
                "resolution_minutes": policy.resolution_minutes,
            }  # fmt: skip
            fake = _Now("sla_started", data, now)
            for name, target in started_clock(hours, fake, now).targets.items():
                data[f"{name}_due"] = iso(target.due)
            self._record(session, item=item, type="sla_started", data=data, key=action.key, at=now)
            after, _ = clock_of(session, item.id, now)
            if after.met("response"):  # answered before the clock started (a call logged)
                met = {"target": "response"}
                key = f"{action.key}/met"
                self._record(session, item=item, type="sla_met", data=met, key=key, at=now)

        return summary(self._change(action, start))

    @activity.defn(name="helpdesk.sla_pause")
    def sla_pause(self, action: ActionInput) -> dict[str, Any]:
        """Hold the clock (``with: {reason: requester}``) while the ticket waits on someone."""
        reason = str(action.args.get("reason") or "")

        def pause(session: Session, item: WorkItem, clock: ClockState, now: datetime) -> None:
            if clock.started and not clock.paused and clock.stopped_at is None:
                self._record(
                    session,
                    item=item,
                    type="sla_paused",
                    data={"reason": reason},
                    key=action.key,
                    at=now,
                )

        return summary(self._change(action, pause))

    @activity.defn(name="helpdesk.sla_resume")
    def sla_resume(self, action: ActionInput) -> dict[str, Any]:
        """Run the clock again; deadlines move by the paused business time (returned)."""

        def resume(session: Session, item: WorkItem, clock: ClockState, now: datetime) -> None:
            if clock.paused:  # the projection at ``now`` is where the deadlines move to
                data = {f"{n}_due": iso(t.due) for n, t in clock.targets.items()}
                self._record(
                    session, item=item, type="sla_resumed", data=data, key=action.key, at=now
                )

        return summary(self._change(action, resume))

    @activity.defn(name="helpdesk.sla_stop")
    def sla_stop(self, action: ActionInput) -> dict[str, Any]:
        """Stop every target (the ticket was closed or cancelled)."""

        def stop(session: Session, item: WorkItem, clock: ClockState, now: datetime) -> None:
            if clock.started and clock.stopped_at is None:
                self._record(
                    session, item=item, type="sla_stopped", data={}, key=action.key, at=now
                )

        return summary(self._change(action, stop))

    @activity.defn(name="helpdesk.sla_tick")
    def sla_tick(self, action: ActionInput) -> dict[str, Any]:
        """Record the warnings and breaches due by now (once each); say when to look again.

        Returns ``warned`` and ``breached`` (the targets this tick recorded),
        ``next`` (the next checkpoint, ISO UTC) and ``done`` (nothing left to
        watch: stopped, met, breached, paused, or no SLA), with the deadlines,
        and ``notice``: what a warning's or a breach's notification says (the
        ticket, each target and its deadline, who has the ticket).
        """
        mine: dict[str, list[str]] = {"warning": [], "breached": []}
        notice: list[str] = []

        def tick(session: Session, item: WorkItem, clock: ClockState, now: datetime) -> None:
            for kind, target, _ in clock.due():
                type = "sla_warning" if kind == "warning" else "sla_breached"
                key = f"{action.key}/{kind}/{target}"
                data = {"target": target}
                self._record(session, item=item, type=type, data=data, key=key, at=now)
            recorded = session.execute(
                select(Event.type, Event.data).where(
                    Event.work_item_id == item.id,
                    Event.idempotency_key.like(f"{_escape(action.key)}/%", escape="\\"),
                )
            )
            for type, data in recorded:  # this tick's, a retried attempt's included
                mine["warning" if type == "sla_warning" else "breached"].append(str(data["target"]))
            notice.append(notice_text(item, clock, mine))

        clock = self._change(action, tick)
        upcoming = clock.next_checkpoint()
        return {
            **summary(clock),
            "warned": sorted(set(mine["warning"])),
            "breached": sorted(set(mine["breached"])),
            "next": iso(upcoming) if upcoming else None,
            "done": upcoming is None,
            "notice": notice[-1] if notice else "",
        }

    def all(self) -> list[Callable[..., Any]]:
        return [self.sla_start, self.sla_pause, self.sla_resume, self.sla_stop, self.sla_tick]


def notice_text(item: WorkItem, clock: ClockState, mine: dict[str, list[str]]) -> str:
    """The body of an SLA warning or breach: the ticket, each target and its due, who has it.

    Empty when the tick recorded neither.
    """
    if not mine["warning"] and not mine["breached"]:
        return ""
    lines = [f'{item.reference or item.id} "{item.title}" (priority {item.priority or "-"})']
    for kind, words in (("breached", "was breached"), ("warning", "is at risk")):
        shown = set(mine[kind]) - (set(mine["breached"]) if kind == "warning" else set())
        for name in sorted(shown):
            due = clock.targets[name].due.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            lines.append(f"The {name} target (due {due}) {words}.")
    current = item.current_team.name if item.current_team else "no team"
    owner = item.owner_team.name if item.owner_team else "no team"
    lines.append(f"It is with {current}; {owner} owns it.")
    return "\n".join(lines)


class _Now:
    """An event about to be recorded, for the clock to read."""

    def __init__(self, type: str, data: dict[str, Any], at: datetime) -> None:
        self.type, self.data, self.occurred_at = type, data, at


def _moment(action: ActionInput, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise _bad(
            action, f"'from' must be a time such as 2026-12-01T09:00:00+01:00, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise _bad(action, f"'from' needs a time zone, got {value!r}")
    return moment.astimezone(UTC)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -------------------------------------------------------------- subscribers ---


def on_event(event: Event, session: Session, pm: PluginManager | None = None) -> None:
    """Follow a ticket's events: its first response, the targets they settle, its closing.

    The first response (:func:`plugins.helpdesk.facts.responds`, the facts'
    definition) is recorded once as ``first_response``, at the moment of the
    event that was it; ``first_response`` stops the response target,
    ``resolved`` both (``sla_met`` or a late breach); ``closed`` stops the clock.
    """
    if event.type != "first_response" and is_response(session, event):
        _record_first_response(event, session, pm)
    if event.type not in ("first_response", "resolved", "reopened", "closed"):
        return
    at = event.occurred_at.astimezone(UTC)
    before, hours = clock_of(session, event.work_item_id, at)
    if not before.started or hours is None:
        return
    if event.type == "closed":
        if before.stopped_at is None:
            key = f"sla/{event.id}/stopped"
            _follow_up(session, pm, event, type="sla_stopped", data={}, key=key, at=at)
    elif event.type != "reopened":
        names = ["response"] if event.type == "first_response" else list(TARGETS)
        for name in names:
            target = before.targets[name]
            if target.stopped_at is not None and target.stopped_at < at:
                continue
            if before.stopped_at is not None:
                continue
            late = at > target.due
            if late and target.breach_recorded:
                continue
            kind = "sla_breached" if late else "sla_met"
            key = f"sla/{event.id}/{name}"
            _follow_up(session, pm, event, type=kind, data={"target": name}, key=key, at=at)
    after, _ = clock_of(session, event.work_item_id, at)
    write_ticket(session, event.work_item_id, after)


def _record_first_response(event: Event, session: Session, pm: PluginManager | None) -> None:
    """The ticket's ``first_response`` at ``event``'s moment, unless it has one already."""
    item = session.get(WorkItem, event.work_item_id)
    if item is None or item.kind != TICKET:
        return
    answered = session.scalars(
        select(Event.id)
        .where(Event.work_item_id == item.id, Event.type == "first_response")
        .limit(1)
    ).first()
    if answered is not None:
        return
    _follow_up(
        session, pm, event, type="first_response", data={"by_event": event.type},
        key=f"first_response/{item.id}", at=event.occurred_at.astimezone(UTC),
        actor_id=event.actor_id, team_id=event.team_id,
    )  # fmt: skip


def _follow_up(
    session: Session,
    pm: PluginManager | None,
    event: Event,
    *,
    type: str,
    data: dict[str, Any],
    key: str,
    at: datetime,
    actor_id: int | None = None,
    team_id: int | None = None,
) -> None:
    """Append an event following ``event`` (once per ``key``), telling subscribers if ``pm``."""
    if pm is None:  # a caller without the plugin manager: nobody else is told
        if session.scalars(select(Event.id).filter_by(idempotency_key=key)).first() is None:
            session.add(
                Event(
                    work_item_id=event.work_item_id, type=type, data=data, occurred_at=at,
                    idempotency_key=key, actor_id=actor_id, team_id=team_id,
                )
            )  # fmt: skip
            session.flush()
        return
    record_event(
        session, pm, work_item_id=event.work_item_id, type=type, data=data, key=key, at=at,
        actor_id=actor_id, team_id=team_id,
    )  # fmt: skip


__all__ = ["SLA_EVENTS", "SlaActions", "add_business_time", "on_event", "select_policy"]
