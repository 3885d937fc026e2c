"""Playing one demo ticket's plan as people would: through intake, tasks and signals.

:class:`Actor` submits a ticket through :func:`engine.intake.submit_request`
(a call as the help desk agent who logged it, the same path as Log a call),
completes tasks through :func:`engine.completion.complete_task` as the
person holding them (claiming a task of a team that hands out nothing by
itself, as its member would), and sends a requester's reply through
:mod:`engine.signals`, checked as the web page checks it. What it writes
itself is stamped at the act's moment (:func:`engine.model.base.recorded_at`);
what the runs write carries their own clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.completion import TaskNotOpen, complete_task
from engine.contrib import RequestType
from engine.errors import TierflowError
from engine.intake import (
    IntakeError,
    Submission,
    check_submission,
    intake_for,
    submit_request,
)
from engine.model import Membership, Person, PersonRole, Task, Team, TimeEntry, WorkItem
from engine.model.base import recorded_at, utcnow
from engine.plugins import PluginManager
from engine.runtime.client import Runtime
from engine.signals import Checked, SignalError, check_signal, deliver, record_signal
from engine.web.inbox import claim
from plugins.helpdesk.demo_stream import Act, TicketPlan

WAIT_SECONDS = 60.0
"""Real seconds to wait for a run to open the task an act completes."""
HELP_DESK = "helpdesk-l1"


@dataclass(frozen=True)
class Sender:
    """The requester sending a signal, as :mod:`engine.signals` needs them."""

    person_id: int
    roles: frozenset[str] = frozenset({"requester"})
    team_ids: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class People:
    """The demo people the plans name by index: requesters, the help desk, managers."""

    requesters: list[int]
    help_desk: list[int]
    managers: list[int]

    @classmethod
    def of(cls, session: Session) -> People:
        def with_role(role: str) -> list[int]:
            query = select(Person.id).join(PersonRole).where(PersonRole.role == role)
            return list(session.scalars(query.where(Person.active).order_by(Person.email)))

        desk = select(Person.id).join(Membership).join(Team).where(Team.slug == HELP_DESK)
        staff = set(with_role("agent"))
        return cls(
            [person for person in with_role("requester") if person not in staff],
            list(session.scalars(desk.order_by(Person.email))),
            with_role("manager"),
        )


@dataclass(frozen=True)
class Cast:
    """Who the plans name, the request types they submit, and this load's name (``load`` tells
    its tickets from an earlier load's, whose runs a Temporal server may still remember)."""

    request_types: dict[str, RequestType]
    people: People
    load: str
    zone: ZoneInfo
    """Where the working days are, for the days time is logged on."""


class Actor:
    """Submits tickets and acts on them on one Temporal runtime (the test server, or the live)."""

    def __init__(
        self, pm: PluginManager, sessions: sessionmaker[Session], runtime: Runtime, cast: Cast
    ) -> None:
        self.pm, self.sessions, self.runtime = pm, sessions, runtime
        self.request_types, self.people, self.load = cast.request_types, cast.people, cast.load
        self.zone = cast.zone

    def submission(self, plan: TicketPlan) -> Submission:
        """The ticket's intake as the portal, the API or Log a call would send it."""
        logged_by = None
        if plan.channel == "phone":
            if not self.people.help_desk:
                raise TierflowError(f"a demo call needs a member of the team '{HELP_DESK}'")
            logged_by = _nth(self.people.help_desk, plan.logged_by)
        return Submission(
            plan.request_type, plan.data, requester_id=_nth(self.people.requesters, plan.requester),
            channel=plan.channel, key=plan.key(self.load), logged_by_id=logged_by,
        )  # fmt: skip

    def check(self, plans: list[TicketPlan]) -> None:
        """Refuse, before anything is written, plans that the deployed workflows do not take
        (a site's own workflow of the same name asks for other data)."""
        with self.sessions() as session:
            for plan in plans:
                try:
                    intake = intake_for(session, self.request_types, plan.request_type)
                    check_submission(intake, self.submission(plan))
                except IntakeError as exc:
                    raise TierflowError(
                        f"the demo's ticket history runs the help desk's shipped workflows, and "
                        f"'{plan.request_type}' as deployed does not take its requests ({exc}); "
                        "start without the history (--demo-days 0)"
                    ) from exc

    async def submit(self, plan: TicketPlan, at: datetime) -> tuple[int, bool]:
        """Submit the ticket as received at ``at``; its work item, and whether it is new."""
        submission = self.submission(plan)
        with recorded_at(at):
            done = await submit_request(
                self.sessions, self.pm, self.runtime, self.request_types, submission
            )
            if done.created and submission.logged_by_id is not None:
                await asyncio.to_thread(
                    self._log, done.work_item_id, submission.logged_by_id, plan.call_minutes, "call"
                )
        return done.work_item_id, done.created

    async def act(self, item_id: int, act: Act, at: datetime | None = None) -> None:
        """Do ``act`` on the item (stamped ``at`` when given, else now)."""
        with _stamped(at):
            if act.kind == "signal":
                await self._signal(item_id, act)
            else:
                await self._complete(item_id, act)

    async def _complete(self, item_id: int, act: Act) -> None:
        for _ in range(int(WAIT_SECONDS * 20)):
            task_id, actor = await asyncio.to_thread(self._holder, item_id, act)
            if task_id is not None:
                try:
                    await complete_task(
                        self.sessions, self.runtime, task_id, outcome=act.outcome,
                        data=act.data, actor_id=actor,
                    )  # fmt: skip
                    if actor is not None and act.minutes:
                        await asyncio.to_thread(self._log, item_id, actor, act.minutes, act.step)
                    return
                except TaskNotOpen:  # the run has not taken it in yet
                    pass
            await asyncio.sleep(0.05)
        raise TierflowError(
            f"demo ticket {item_id}: no open task '{act.step}' after {WAIT_SECONDS:g} s"
        )

    def _log(self, item_id: int, person_id: int, minutes: int, what: str) -> None:
        """A staff member logs ``minutes`` on the ticket, today (the act's day), at their rate."""
        with self.sessions.begin() as session:
            person = session.get(Person, person_id)
            if person is None or not person.is_staff:  # a line manager's approval: no IT time
                return
            session.add(
                TimeEntry(
                    person_id=person_id, work_item_id=item_id, minutes=minutes,
                    work_date=utcnow().astimezone(self.zone).date(), activity="ticket",
                    rate=person.cost_rate or Decimal("0.00"), note=what,
                )
            )  # fmt: skip

    def _holder(self, item_id: int, act: Act) -> tuple[int | None, int | None]:
        """The newest open task of the act's step and who completes it (claiming it if need be)."""
        with self.sessions.begin() as session:
            task = session.scalars(
                select(Task)
                .filter_by(work_item_id=item_id, step_id=act.step, status="open")
                .order_by(Task.id.desc())
            ).first()
            if task is None:
                return None, None
            if task.assignee_id is not None:
                return task.id, task.assignee_id
            if task.team_id is None:  # a role's task: the approving manager
                return task.id, _nth(self.people.managers, act.pick)
            members = session.scalars(
                select(Membership.person_id).filter_by(team_id=task.team_id)
                .order_by(Membership.person_id)
            ).all()  # fmt: skip
            person = _nth(list(members), act.pick)
            claim(session, task.id, person, pm=self.pm)
            return task.id, person

    async def _signal(self, item_id: int, act: Act) -> None:
        for _ in range(int(WAIT_SECONDS * 20)):
            try:
                sender, checked = await asyncio.to_thread(self._checked, item_id, act)
                break
            except SignalError as exc:  # 409: the run has not resolved the ticket yet
                if exc.status != 409:
                    raise
            await asyncio.sleep(0.05)
        else:
            raise TierflowError(f"demo ticket {item_id}: '{act.step}' refused {WAIT_SECONDS:g} s")
        await deliver(self.runtime, checked)
        with self.sessions.begin() as session:
            record_signal(session, self.pm, checked, sender)

    def _checked(self, item_id: int, act: Act) -> tuple[Sender, Checked]:
        with self.sessions() as session:
            item = session.get(WorkItem, item_id)
            if item is None or item.requester_id is None:
                raise TierflowError(f"demo ticket {item_id} has no requester to reply")
            sender = Sender(item.requester_id)
            return sender, check_signal(session, item, sender, act.step, act.data)


def _nth(people: list[int], number: int) -> int:
    if not people:
        raise TierflowError("the demo stream needs requesters, help desk agents and a manager")
    return people[number % len(people)]


@contextlib.contextmanager
def _stamped(at: datetime | None) -> Iterator[None]:
    if at is None:
        yield
        return
    with recorded_at(at):
        yield
