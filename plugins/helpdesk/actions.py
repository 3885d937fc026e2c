"""The help desk's lifecycle actions: prioritise, escalate, de-escalate, resolve, reopen, close.

Each is a Temporal activity taking one :class:`engine.contrib.ActionInput`.
Each records what happened as events of the ticket (the contract every part
of the help desk reads: ``escalated``, ``de_escalated``, ``resolved``,
``reopened``, ``closed``, ``prioritised``) and changes the work item through
:func:`engine.workitems.update_work_item`, all in one transaction keyed by
``ActionInput.key``: a retried activity finds its own event and writes
nothing twice. Facts for reports (escalation counts, first contact ...) are
not counted here; the ticket-facts subscriber derives them from the events.

Bad arguments (an unknown team, a resolution mode that is not ``remote`` or
``on_site`` ...) fail the step at once, not retried, with a message naming
the step, the action and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.contrib import ActionInput
from engine.events import record_event
from engine.model import Event, Person, Team, WorkItem
from engine.plugins import PluginManager
from engine.workitems import WorkItemError, update_work_item
from plugins.helpdesk.calendar import MAX_DAYS, CalendarError, Hours, add_business_time
from plugins.helpdesk.models import RESOLUTION_MODES, Calendar, Category, SlaPolicy, Ticket
from plugins.helpdesk.priority import PriorityError, priority_for

REOPENED_BY = ("requester", "owner")
CLOSED_BY = ("owner", "auto")


class BadArguments(Exception):
    """What is wrong with a step's ``with:`` (the step fails, naming it)."""


class LifecycleActions:
    """The lifecycle activities, sharing the worker's plugin manager and database sessions."""

    def __init__(self, pm: PluginManager, sessions: sessionmaker[Session]) -> None:
        self.pm = pm
        self.sessions = sessions

    # ------------------------------------------------------------ priority ---

    @activity.defn(name="helpdesk.prioritise")
    def prioritise(self, action: ActionInput) -> int:
        """Set the priority from the impact x urgency matrix; returns it (1..4).

        ``with: {impact: high|medium|low, urgency: high|medium|low}``; records
        ``prioritised`` {impact, urgency, priority}.
        """

        def run(session: Session, item: WorkItem) -> int:
            done = _done(session, action.key)
            if done is not None:
                return int(done.data["priority"])
            try:
                impact, urgency = action.args.get("impact"), action.args.get("urgency")
                priority = priority_for(session, impact, urgency)
            except PriorityError as exc:
                raise BadArguments(str(exc)) from None
            data = {"impact": impact, "urgency": urgency, "priority": priority}
            self._change(session, item, action, {"priority": priority})
            self._record(session, item, action, "prioritised", data=data)
            return priority

        return self._run(action, run)

    # ---------------------------------------------------------- tiers ---

    @activity.defn(name="helpdesk.escalate")
    def escalate(self, action: ActionInput) -> dict[str, Any]:
        """Hand the ticket to another team, with a reason; the owner team stays the owner.

        ``with: {to: <team slug>, reason: <text>, by: <person id or e-mail>,
        category: <slug>, tiers: [L2, L3]}``: without ``to``, the category's
        default team. Sets the current team and the status ``escalated`` and
        records ``escalated`` {from_team, to_team, from_tier, to_tier, reason}
        by ``by``. Returns {escalated, team, tier, refused}: escalating to the
        team that has the ticket already, to the owner team (give it back
        instead) or to a team whose tier is not in ``tiers`` (when given; a
        team without a tier is accepted) changes nothing: ``escalated`` is
        false and ``refused`` says why, for the workflow to tell the team.
        """
        return self._hand_over(action, "escalated", status="escalated")

    @activity.defn(name="helpdesk.de_escalate")
    def de_escalate(self, action: ActionInput) -> dict[str, Any]:
        """Give the ticket back (``to``, default the owner team), with a reason.

        Same arguments and result as ``helpdesk.escalate``; sets the status
        ``open`` and records ``de_escalated`` with the same keys. With
        ``previous: true`` (and no ``to``) it goes one step down: to the team
        that escalated it to the current team (L3 back to the L2 team it came
        from), else to the owner team.
        """
        return self._hand_over(action, "de_escalated", status="open")

    def _hand_over(self, action: ActionInput, kind: str, *, status: str) -> dict[str, Any]:
        def run(session: Session, item: WorkItem) -> dict[str, Any]:
            done = _done(session, action.key)
            if done is not None:
                return _moved(True, done.data["to_team"], done.data["to_tier"])
            to = self._target(session, item, action, kind)
            actor = _person(session, action.args.get("by"))
            here = item.current_team
            refused = _refusal(item, to, kind, action.args.get("tiers"))
            if refused:
                return {**_moved(False, to.slug, to.tier), "refused": refused}
            data = {
                "from_team": here.slug if here else None,
                "to_team": to.slug,
                "from_tier": here.tier if here else None,
                "to_tier": to.tier,
                "reason": _text(action.args.get("reason")),
            }
            self._change(session, item, action, {"status": status, "current_team": to.slug})
            self._record(session, item, action, kind, data=data, actor=actor, team=here)
            return _moved(True, to.slug, to.tier)

        return self._run(action, run)

    def _target(self, session: Session, item: WorkItem, action: ActionInput, kind: str) -> Team:
        slug = _text(action.args.get("to"))
        if kind == "de_escalated" and _flag(action.args.get("previous"), "previous") and not slug:
            slug = _came_from(session, item)
        if slug:
            return _team(session, slug)
        if kind == "de_escalated" and item.owner_team is not None:
            return item.owner_team
        category = _text(action.args.get("category"))
        if category:
            row = session.scalars(select(Category).filter_by(slug=category)).one_or_none()
            if row is not None and row.default_team is not None:
                return row.default_team
        raise BadArguments(
            "needs with: {to: <team slug>} (or a category with a default team); "
            f"got to={action.args.get('to')!r}, category={action.args.get('category')!r}"
        )

    # ---------------------------------------------------------- resolving ---

    @activity.defn(name="helpdesk.resolve")
    def resolve(self, action: ActionInput) -> dict[str, Any]:
        """Record the resolution by the current team and set the status ``resolved``.

        ``with: {mode: remote|on_site (or none), l1_capable: true|false (or
        none), first_contact: true|false, by: <person id or e-mail>}``. Without
        ``by`` the resolver is who created the ticket's record (the agent who
        logged a call). Records ``resolved`` {team, tier, resolution_mode,
        l1_capable, first_contact}; returns {team, tier}.
        """

        def run(session: Session, item: WorkItem) -> dict[str, Any]:
            done = _done(session, action.key)
            if done is not None:
                return {"team": done.data["team"], "tier": done.data["tier"]}
            mode = _text(action.args.get("mode")) or None
            if mode is not None and mode not in RESOLUTION_MODES:
                raise BadArguments(
                    f"mode must be one of {', '.join(RESOLUTION_MODES)} (or none); got {mode!r}"
                )
            l1_capable = _flag(action.args.get("l1_capable"), "l1_capable", optional=True)
            first_contact = _flag(action.args.get("first_contact"), "first_contact") or False
            by = action.args.get("by")
            actor = _person(session, by) if by not in (None, "") else _creator(session, item)
            team = item.current_team
            data = {
                "team": team.slug if team else None,
                "tier": team.tier if team else None,
                "resolution_mode": mode,
                "l1_capable": l1_capable,
                "first_contact": first_contact,
            }
            self._change(session, item, action, {"status": "resolved"})
            self._record(session, item, action, "resolved", data=data, actor=actor)
            return {"team": data["team"], "tier": data["tier"]}

        return self._run(action, run)

    @activity.defn(name="helpdesk.reopen")
    def reopen(self, action: ActionInput) -> int:
        """Reopen a resolved ticket: back to the owner team, status ``open``.

        ``with: {by: requester|owner}``; records ``reopened`` {times, by} where
        ``times`` counts this reopening too. Returns ``times``.
        """

        def run(session: Session, item: WorkItem) -> int:
            done = _done(session, action.key)
            if done is not None:
                return int(done.data["times"])
            by = _choice(action.args.get("by"), "by", REOPENED_BY)
            times = 1 + (
                session.scalar(
                    select(func.count())
                    .select_from(Event)
                    .filter_by(work_item_id=item.id, type="reopened")
                )
                or 0
            )
            changes: dict[str, Any] = {"status": "open", "closed": False}
            if item.owner_team is not None:
                changes["current_team"] = item.owner_team.slug
            self._change(session, item, action, changes)
            self._record(session, item, action, "reopened", data={"times": times, "by": by})
            return times

        return self._run(action, run)

    @activity.defn(name="helpdesk.close")
    def close(self, action: ActionInput) -> str:
        """Close the ticket: status ``closed``, closed now. ``with: {by: owner|auto}``.

        Records ``closed`` {by} (by the person ``person``, an id or e-mail, if given).
        """

        def run(session: Session, item: WorkItem) -> str:
            done = _done(session, action.key)
            if done is not None:
                return str(done.data["by"])
            by = _choice(action.args.get("by"), "by", CLOSED_BY)
            actor = _person(session, action.args.get("person"))
            self._change(session, item, action, {"status": "closed", "closed": True})
            self._record(session, item, action, "closed", data={"by": by}, actor=actor)
            return by

        return self._run(action, run)

    @activity.defn(name="helpdesk.business_days_ahead")
    def business_days_ahead(self, action: ActionInput) -> str:
        """The moment ``days`` business days after ``from`` (ISO, UTC): when to close unanswered.

        ``with: {days: 5, from: "{{ now }}", calendar: <slug>}``. The calendar
        is the one named, else that of the ticket's SLA policy, else the first
        one defined, else Monday to Friday, 08:00-17:00 UTC. A business day is
        the calendar's working day (its length in business time), so a ticket
        resolved on Friday at 10:00 waits until 10:00 five working days later,
        holidays skipped.
        """

        def run(session: Session, item: WorkItem) -> str:
            days = _count(action.args.get("days"), "days", 365)
            return self._ahead(session, item, action, lambda day: day * days)

        return self._run(action, run)

    @activity.defn(name="helpdesk.business_hours_ahead")
    def business_hours_ahead(self, action: ActionInput) -> str:
        """The moment ``hours`` business hours (plus ``days`` business days) after ``from``.

        ``with: {hours: 4, days: 0, from: "{{ now }}", calendar: <slug>}``
        (ISO, UTC), on the calendar :meth:`business_days_ahead` picks: a task
        due in four business hours opened on Friday at 15:00 is due on Monday
        at 11:00, so its overdue notices do not fire over the weekend.
        """

        def run(session: Session, item: WorkItem) -> str:
            hours = _count(action.args.get("hours"), "hours", 8760)
            days = _count(action.args.get("days") or 0, "days", 365)
            return self._ahead(
                session, item, action, lambda day: day * days + timedelta(hours=hours)
            )

        return self._run(action, run)

    @activity.defn(name="helpdesk.business_days_before")
    def business_days_before(self, action: ActionInput) -> str:
        """The moment ``days`` business days before ``to``, but not before ``from`` (ISO, UTC).

        ``with: {days: 3, to: "{{ input.start_date }}T08:00:00+00:00", from:
        "{{ now }}", calendar: <slug>}``: when work due on a date should
        start (a new hire's SLA clock runs from three working days before the
        first day; a request made later starts it at once).
        """

        def run(session: Session, item: WorkItem) -> str:
            days = _count(action.args.get("days"), "days", 365)
            end, start = _moment(action.args.get("to"), "to"), _moment(action.args.get("from"))
            try:
                hours = Hours.of(_calendar(session, item, _text(action.args.get("calendar"))))
                moment = _back(hours, end.astimezone(UTC), _day_length(hours) * days)
            except CalendarError as exc:
                raise BadArguments(str(exc)) from None
            return max(moment, start.astimezone(UTC)).isoformat()

        return self._run(action, run)

    def _ahead(
        self,
        session: Session,
        item: WorkItem,
        action: ActionInput,
        amount: Callable[[timedelta], timedelta],
    ) -> str:
        """``from`` plus ``amount(length of a working day)`` of business time, ISO UTC."""
        start = _moment(action.args.get("from"))
        try:
            hours = Hours.of(_calendar(session, item, _text(action.args.get("calendar"))))
            moment = add_business_time(hours, start, amount(_day_length(hours)))
        except CalendarError as exc:
            raise BadArguments(str(exc)) from None
        return moment.astimezone(UTC).isoformat()

    # ------------------------------------------------------------ plumbing ---

    def _run(self, action: ActionInput, run: Callable[[Session, WorkItem], Any]) -> Any:
        """``run(session, item)`` in one transaction; bad arguments fail the step for good."""
        name = activity.info().activity_type if activity.in_activity() else "helpdesk action"
        try:
            if action.work_item_id is None:
                raise BadArguments("this run has no work item to change")
            with self.sessions() as session, session.begin():
                item = session.get(WorkItem, action.work_item_id)
                if item is None:
                    raise BadArguments(f"work item {action.work_item_id} does not exist")
                return run(session, item)
        except (BadArguments, WorkItemError) as exc:
            raise ApplicationError(
                f"step '{action.step_id}': {name}: {exc}", type="BadArguments", non_retryable=True
            ) from exc

    def _change(
        self, session: Session, item: WorkItem, action: ActionInput, changes: dict[str, Any]
    ) -> None:
        update_work_item(session, self.pm, item.id, changes, key=f"{action.key}/change")

    def _record(
        self,
        session: Session,
        item: WorkItem,
        action: ActionInput,
        kind: str,
        *,
        data: dict[str, Any],
        actor: Person | None = None,
        team: Team | None = None,
    ) -> None:
        team = team or item.current_team
        record_event(
            session, self.pm, work_item_id=item.id, type=kind, data=data,
            actor_id=actor.id if actor else None, team_id=team.id if team else None,
            key=f"{action.key}/event",
        )  # fmt: skip

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.prioritise,
            self.escalate,
            self.de_escalate,
            self.resolve,
            self.reopen,
            self.close,
            self.business_days_ahead,
            self.business_hours_ahead,
            self.business_days_before,
        ]


# -------------------------------------------------------------- helpers ---


def _done(session: Session, key: str) -> Event | None:
    """The event this action recorded on an earlier attempt, if any."""
    query = select(Event).filter_by(idempotency_key=f"{key}/event")
    return session.scalars(query).one_or_none()


def _moved(moved: bool, team: str, tier: str | None) -> dict[str, Any]:
    return {"escalated": moved, "team": team, "tier": tier}


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _team(session: Session, slug: str) -> Team:
    team = session.scalars(select(Team).filter_by(slug=slug)).one_or_none()
    if team is None or not team.active:
        raise BadArguments(f"there is no active team '{slug}'; give a team's slug")
    return team


def _person(session: Session, who: object) -> Person | None:
    """The person ``who`` names: an id (a task's ``completed_by``) or an e-mail address."""
    if who in (None, ""):
        return None
    if isinstance(who, int) and not isinstance(who, bool):
        person = session.get(Person, who)
    elif isinstance(who, str) and who.strip().isdigit():
        person = session.get(Person, int(who.strip()))
    elif isinstance(who, str):
        person = session.scalars(select(Person).filter_by(email=who.strip().lower())).first()
    else:
        person = None
    if person is None:
        raise BadArguments(f"by: there is no person {who!r}; give a person's id or e-mail address")
    return person


def _creator(session: Session, item: WorkItem) -> Person | None:
    """Who recorded the ticket (the agent logging a call, else the requester)."""
    query = select(Event.actor_id).filter_by(work_item_id=item.id, type="created")
    actor_id = session.scalars(query).first()
    return session.get(Person, actor_id) if actor_id is not None else None


def _flag(value: object, name: str, *, optional: bool = False) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in (None, ""):
        return None if optional else False
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadArguments(f"{name} must be true or false; got {value!r}")


def _moment(value: object, name: str = "from") -> datetime:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadArguments(f"{name} must be a time with its zone, such as now; got {value!r}")
    return moment


def _count(value: object, name: str, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise BadArguments(f"{name} must be a whole number from 0 to {most}; got {value!r}")
    return value


def _back(hours: Hours, end: datetime, amount: timedelta) -> datetime:
    """The moment ``amount`` of business time before ``end`` (working days walked backwards)."""
    day, idle = end.astimezone(hours.zone).date(), 0
    while amount > timedelta(0):
        window = hours.interval(day)
        day -= timedelta(days=1)
        if window is None or window[0] >= end:
            idle += 1
            if idle > MAX_DAYS:
                raise CalendarError(
                    f"calendar {hours.name or '?'} has no working time before {end}"
                )
            continue
        idle = 0
        opens, closes = window[0], min(window[1], end)
        if amount <= closes - opens:
            return closes - amount
        amount -= closes - opens
    return end


def _came_from(session: Session, item: WorkItem) -> str:
    """The team that last escalated the ticket to its current team ("" if none did)."""
    here = item.current_team.slug if item.current_team else None
    query = (
        select(Event.data)
        .filter_by(work_item_id=item.id, type="escalated")
        .order_by(Event.id.desc())
    )
    for data in session.scalars(query):
        if data.get("to_team") == here:
            return str(data.get("from_team") or "")
    return ""


def _refusal(item: WorkItem, to: Team, kind: str, tiers: object) -> str:
    """Why the ticket cannot be handed to ``to`` (empty: it can)."""
    here = item.current_team
    if here is not None and here.id == to.id:
        return f"the ticket is with {to.name} already"
    if kind != "escalated":
        return ""
    if item.owner_team is not None and item.owner_team.id == to.id:
        return f"{to.name} owns the ticket: give it back instead of escalating"
    allowed = [str(tier) for tier in tiers] if isinstance(tiers, list) else []
    if allowed and to.tier and to.tier not in allowed:
        return f"{to.name} ({to.tier}) takes no escalations; choose a team of {', '.join(allowed)}"
    return ""


def _calendar(session: Session, item: WorkItem, slug: str) -> Calendar | Hours:
    if slug:
        found = session.scalars(select(Calendar).filter_by(slug=slug)).one_or_none()
        if found is None:
            raise BadArguments(f"there is no calendar '{slug}'")
        return found
    ticket = session.get(Ticket, item.id)
    if ticket is not None and ticket.sla_policy_id is not None:
        policy = session.get(SlaPolicy, ticket.sla_policy_id)
        if policy is not None:
            return policy.calendar
    first = session.scalars(select(Calendar).order_by(Calendar.id).limit(1)).first()
    return first if first is not None else Hours(name="Monday to Friday, 08:00-17:00 UTC")


def _day_length(hours: Hours) -> timedelta:
    day = date(2000, 1, 3)
    return datetime.combine(day, hours.day_end) - datetime.combine(day, hours.day_start)


def _choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BadArguments(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)
