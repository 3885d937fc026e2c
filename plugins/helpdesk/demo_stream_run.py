"""The demo help desk's history: its ticket stream run through the real workflows.

Closed tickets run on Temporal's time-skipping test server, which starts at
the present and only moves forward (it has no flag to start earlier), with a
worker running every installed plugin's activities against the demo's own
database. So the history runs on a clock ``shift`` ahead: whole weeks,
chosen so that over the window every day of the help desk's calendars is
the same kind of day (weekday, public holiday, UTC offset) as the day
``shift`` earlier. Business hours, SLA deadlines and auto-close days then
come out as they would have in the past, and afterwards every moment the
runs recorded (rows, events, deadlines inside event data) is moved back by
``shift`` (:func:`engine.demo.shift_times`). The shift is years, so nothing
real lies in the span that is moved.

Tickets still open now are started on the live Temporal server (the one the
process serves), received at their past arrival; what people did to them
before now is done again now, so staff find them in their queues at the
step the working day left them, with SLA clocks running from their arrival.
"""

from __future__ import annotations

import heapq
import uuid
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from engine.contrib import RequestType
from engine.demo import DemoHistory, DemoRun, shift_times
from engine.errors import TierflowError
from engine.model import Event, WorkItem
from engine.plugins import unique_by
from engine.runtime.activities import worker_activities
from engine.runtime.binaries import test_server_path
from engine.runtime.client import Runtime as Runs
from engine.runtime.interpreter import Interpreter
from engine.runtime.worker import build_worker
from plugins.helpdesk.calendar import Hours
from plugins.helpdesk.demo_stream import TicketPlan, Window
from plugins.helpdesk.demo_stream_act import Actor, Cast, People
from plugins.helpdesk.demo_stream_plan import plan_stream
from plugins.helpdesk.mail.models import OutboxMail
from plugins.helpdesk.models import Calendar

MIN_SHIFT_WEEKS = 5 * 52
"""The history runs at least five years ahead: no real moment lies in the span moved back."""
MAX_SHIFT_WEEKS = 60 * 52
AHEAD = timedelta(days=400)
"""How far past the anchor a moment of the history may lie (a deadline) and still be moved."""
SAME_AHEAD = timedelta(days=31)
"""How far past the anchor the calendars must match (deadlines of the last closed tickets)."""
SETTLE = timedelta(hours=1)
"""Time given to the runs after their last planned moment to close (auto-close included)."""
SLEEP_TRIES = 30
"""How often the history asks the test server again to let time pass while runs are busy."""
KEY = "%-demo-%"
"""How the demo tickets' run ids look (the intake's key is ``demo-<load>-<number>``)."""


async def run(demo: DemoRun) -> str:
    """Add the demo ticket history unless it is there; say what was added."""
    if demo.options.days == 0:
        return "none asked for (--demo-days 0)"
    anchor = datetime.now(UTC).replace(microsecond=0)
    with demo.sessions() as session:
        if present(session, anchor):
            return "already present, nothing added"
        hours = calendars(session)
        people = People.of(session)
    window = Window(anchor, demo.options.days, hours[0])
    plans = plan_stream(window, demo.options.per_day, demo.options.seed, len(people.requesters))
    closed = [plan for plan in plans if plan.done_by(anchor - SETTLE)]
    live = [plan for plan in plans if not plan.done_by(anchor - SETTLE)]
    request_types = unique_by(
        demo.pm, "tierflow_register_request_types", "name", expect=RequestType
    )
    counter = _Counter(demo, len(plans))
    shift = calendar_shift(hours, window.start - timedelta(days=1), anchor + SAME_AHEAD)
    cast = Cast(request_types, people, f"{anchor:%Y%m%d%H%M%S}", hours[0].zone)
    runs = Runs(demo.client, demo.task_queue)
    actor = Actor(demo.pm, demo.sessions, runs, cast)
    actor.check(plans)
    await simulate(demo, closed, shift, cast, counter)
    with demo.sessions.begin() as session:
        begin = window.start + shift - timedelta(days=2)
        shift_times(session, begin, anchor + shift + AHEAD, -shift)
    for plan in live:
        item, created = await actor.submit(plan, plan.arrival)
        if created:
            for act in plan.acts_before(anchor):
                await actor.act(item, act)
        counter.tick()
    with demo.sessions.begin() as session:
        skip_history_mail(session)
    return f"{len(plans)} tickets over {demo.options.days} days, {len(live)} still open"


def skip_history_mail(session: Session) -> int:
    """Mark the mails the history queued for its requesters as never to be sent.

    The history happened in the past (and its requesters are made up): a site
    that configures SMTP after loading the demo must not send them. Returns
    how many were marked.
    """
    demo_items = select(WorkItem.id).where(WorkItem.workflow_id.like(KEY))
    done = session.execute(
        update(OutboxMail)
        .where(OutboxMail.state == "queued", OutboxMail.work_item_id.in_(demo_items))
        .values(state="skipped", note="demo history: never sent")
    )
    return done.rowcount or 0


def present(session: Session, anchor: datetime) -> bool:
    """Whether the history is there; an earlier load that stopped half-way is an error."""
    ahead = session.scalar(
        select(func.count()).select_from(Event).where(Event.occurred_at > anchor + AHEAD)
    )
    if ahead:
        raise TierflowError(
            "the demo's ticket history was interrupted while it ran (the database holds moments "
            "years ahead): remove the demo's database and Temporal data (the data directory) "
            "and start 'tierflow serve --demo' again"
        )
    found = session.scalar(
        select(func.count()).select_from(WorkItem).where(WorkItem.workflow_id.like(KEY))
    )
    return bool(found)


def calendars(session: Session) -> list[Hours]:
    """The help desk's business calendars (the first is the stream's); Monday to Friday if none."""
    rows = session.scalars(select(Calendar).order_by(Calendar.id)).all()
    return [Hours.of(row) for row in rows] or [Hours()]


def calendar_shift(hours: list[Hours], first: datetime, last: datetime) -> timedelta:
    """The fewest whole weeks (at least :data:`MIN_SHIFT_WEEKS`) after which every day from
    ``first`` to ``last`` is, on every calendar, the same kind of day as before."""
    days = [first.date() + timedelta(days=n) for n in range((last - first).days + 1)]
    wanted = [_kind(hours, day) for day in days]
    for weeks in range(MIN_SHIFT_WEEKS, MAX_SHIFT_WEEKS):
        moved = timedelta(weeks=weeks)
        if all(_kind(hours, day + moved) == kind for day, kind in zip(days, wanted, strict=True)):
            return moved
    raise TierflowError(
        f"the demo history found no shift of up to {MAX_SHIFT_WEEKS} weeks that keeps the "
        "help desk's calendars the same from "
        f"{first.date()} to {last.date()}; check the calendars' holidays and time zones"
    )


def _kind(hours: list[Hours], day: date) -> tuple[object, ...]:
    return tuple(
        (
            each.is_working_day(day),
            datetime.combine(day, time(0), tzinfo=each.zone).utcoffset(),
            datetime.combine(day, time(23, 59), tzinfo=each.zone).utcoffset(),
        )
        for each in hours
    )


class _Counter:
    def __init__(self, demo: DemoRun, total: int) -> None:
        self.demo, self.total, self.done = demo, total, 0

    def tick(self) -> None:
        self.done += 1
        self.demo.progress(self.done, self.total)


async def simulate(
    demo: DemoRun, plans: list[TicketPlan], shift: timedelta, cast: Cast, counter: _Counter
) -> None:
    """Run ``plans`` on a time-skipping test server, ``shift`` ahead; every run ends in it."""
    if not plans:
        return
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path()), runtime=_quiet_runtime()
    )
    try:
        queue = f"demo-history-{uuid.uuid4().hex[:12]}"
        worker = build_worker(
            env.client,
            queue,
            activities=worker_activities(demo.pm, demo.sessions),
            workflows=[Interpreter],
        )
        runs = Runs(env.client, queue)
        actor = Actor(demo.pm, demo.sessions, runs, cast)
        async with worker:
            items = await _play(env, plans, shift, actor, counter)
            last = max(plan.ends or plan.arrival for plan in plans) + shift + SETTLE
            await _sleep_until(env, last)
            await _check_ended(env.client, demo, items)
    finally:
        await env.shutdown()


async def _play(
    env: WorkflowEnvironment,
    plans: list[TicketPlan],
    shift: timedelta,
    actor: Actor,
    counter: _Counter,
) -> dict[int, int]:
    """Every intake and act of ``plans`` at its moment, in the order of their moments."""
    items: dict[int, int] = {}
    due = [(plan.arrival, plan.number, -1) for plan in plans]
    heapq.heapify(due)
    by_number = {plan.number: plan for plan in plans}
    while due:
        at, number, index = heapq.heappop(due)
        plan = by_number[number]
        moment = await _sleep_until(env, at + shift)
        if index < 0:
            items[number], _ = await actor.submit(plan, moment)
        else:
            await actor.act(items[number], plan.acts[index], moment)
        if index + 1 < len(plan.acts):
            heapq.heappush(due, (plan.acts[index + 1].at, number, index + 1))
        else:
            counter.tick()
    return items


async def _sleep_until(env: WorkflowEnvironment, moment: datetime) -> datetime:
    """Let the test server's time pass until ``moment`` (the runs do what falls due meanwhile).

    The server holds its clock while runs are busy; a long, busy stretch can outlast one
    call's deadline, so the call is made again for what is left.
    """
    for _ in range(SLEEP_TRIES):
        now = await env.get_current_time()
        if moment <= now:
            return now
        try:
            await env.sleep(moment - now)
        except RPCError as exc:
            if exc.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                raise
            continue
        return moment
    raise TierflowError(
        f"the demo history's clock did not reach {moment.isoformat()} after {SLEEP_TRIES} tries: "
        "a run stays busy (is an action failing and being retried?)"
    )


async def _check_ended(client: Client, demo: DemoRun, items: dict[int, int]) -> None:
    with demo.sessions() as session:
        query = select(WorkItem.id, WorkItem.workflow_id).where(
            WorkItem.id.in_(sorted(items.values()))
        )
        runs = dict(session.execute(query).tuples().all())
    for item_id, workflow_id in sorted(runs.items()):
        description = await client.get_workflow_handle(str(workflow_id)).describe()
        if description.status != WorkflowExecutionStatus.COMPLETED:
            status = description.status.name.lower() if description.status else "unknown"
            raise TierflowError(
                f"demo ticket {item_id} ({workflow_id}) did not end in its history: {status}"
            )


@cache
def _quiet_runtime() -> Runtime:
    """Only errors from the SDK: its warning that the test server lacks features is noise."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


HISTORY = DemoHistory("the help desk's ticket history", run)
"""What the help desk contributes to ``tierflow_register_demo_history``."""
