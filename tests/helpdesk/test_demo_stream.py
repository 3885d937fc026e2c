"""The demo help desk's ticket history: planned from a seed, run through the real workflows.

The plan is pure and repeatable; the shift that runs it years ahead keeps the
calendar's days; the history lands in the past with the facts its events say,
some tickets left open on the live Temporal server with their tasks, and a
second load adds nothing.
"""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from engine.db import make_session_factory
from engine.demo import DemoHistory, DemoOptions, shift_times
from engine.errors import TierflowError
from engine.model import Event, Task, TimeEntry, WorkItem
from engine.model.base import recorded_at
from engine.plugins import PluginManager, create_plugin_manager
from engine.progress import Steps
from engine.runtime.activities import worker_activities
from engine.runtime.interpreter import Interpreter
from engine.runtime.worker import build_worker
from engine.server import load_demo_history
from engine.workflows import deploy_all
from plugins.helpdesk import demo
from plugins.helpdesk.calendar import Hours
from plugins.helpdesk.demo_stream import Window
from plugins.helpdesk.demo_stream_journeys import JOURNEYS, OPEN_JOURNEYS
from plugins.helpdesk.demo_stream_plan import plan_stream
from plugins.helpdesk.demo_stream_run import KEY, MIN_SHIFT_WEEKS, calendar_shift, present
from plugins.helpdesk.facts import current_facts
from plugins.helpdesk.mail.models import OutboxMail
from plugins.helpdesk.models import Ticket
from tests.procs import free_port, stop, wait_for_http

BERLIN = Hours("Europe/Berlin", holiday_country="DE", holiday_subdivision="BE", name="berlin")
ANCHOR = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # a Friday afternoon


def window(days: int = 90) -> Window:
    return Window(ANCHOR, days, BERLIN)


# ------------------------------------------------------------------ the plan ---


def test_the_same_seed_plans_the_same_stream_and_another_seed_another() -> None:
    first = plan_stream(window(), 2.0, 7, 60)
    assert first == plan_stream(window(), 2.0, 7, 60)
    assert first != plan_stream(window(), 2.0, 8, 60)


def test_tickets_arrive_over_the_whole_window_in_working_hours_never_on_holidays() -> None:
    plans = plan_stream(window(), 2.0, 1, 60)
    zone = ZoneInfo("Europe/Berlin")
    days = [plan.arrival.astimezone(zone) for plan in plans]
    assert ANCHOR - timedelta(days=90) < min(plan.arrival for plan in plans)
    assert max(plan.arrival for plan in plans) < ANCHOR
    weeks = {day.isocalendar()[1] for day in days}
    assert len(weeks) >= 12  # every week of the 13 has tickets
    assert all(8 <= day.hour < 17 for day in days)
    holidays = {date(2026, 10, 3)}  # German Unity Day: a Saturday in 2026, still a holiday
    assert not holidays & {day.date() for day in days}
    weekend = sum(day.isoweekday() > 5 for day in days)
    assert weekend < len(days) * 0.05
    assert 100 <= len(plans) <= 250  # about two a working day


def test_every_type_channel_and_line_is_planned_and_the_last_tickets_stay_open() -> None:
    plans = plan_stream(window(14), 0.0, 1, 60)  # no random stream: the journeys alone
    assert len(plans) == len(JOURNEYS) + len(OPEN_JOURNEYS)
    assert {p.request_type for p in plans} == {
        "incident", "service_request", "access_request", "new_hire", "leaver",
    }  # fmt: skip
    assert {p.channel for p in plans} == {"portal", "api", "phone"}
    steps = Counter(act.step for plan in plans for act in plan.acts)
    assert {"triage", "desktop_fix", "expert_fix", "confirm", "approval"} <= set(steps)
    modes = {act.data.get("mode") for plan in plans for act in plan.acts}
    assert {"on_site", "remote"} <= modes
    outcomes = {act.outcome for plan in plans for act in plan.acts}
    assert {"resolved", "escalate", "back_to_l1", "need_info", "refused", "fixed"} <= outcomes
    assert any(act.kind == "signal" for plan in plans for act in plan.acts)
    still_open = [plan for plan in plans if not plan.done_by(ANCHOR)]
    assert len(still_open) >= len(OPEN_JOURNEYS)
    assert all(act.at < ANCHOR for plan in still_open for act in plan.acts_before(ANCHOR))


# ------------------------------------------------------------- the shift back ---


def test_the_shift_is_whole_weeks_years_ahead_and_keeps_every_kind_of_day() -> None:
    start, end = ANCHOR - timedelta(days=91), ANCHOR + timedelta(days=31)
    shift = calendar_shift([BERLIN], start, end)
    assert shift.days % 7 == 0
    assert shift >= timedelta(weeks=MIN_SHIFT_WEEKS)
    christmas = date(2026, 12, 25)
    assert not BERLIN.is_working_day(christmas + shift)  # still a holiday there
    for offset in range((end - start).days):
        day = start.date() + timedelta(days=offset)
        assert BERLIN.is_working_day(day) == BERLIN.is_working_day(day + shift)
        assert BERLIN.interval(day + shift) == (
            None
            if BERLIN.interval(day) is None
            else tuple(moment + shift for moment in BERLIN.interval(day))  # type: ignore[union-attr]
        )


def test_shift_times_moves_only_moments_in_the_span_columns_and_json_alike(
    session: Session, make_work_item
) -> None:
    far = datetime(2037, 3, 2, 9, 30, tzinfo=UTC)
    item = make_work_item(created_at=far, closed_at=datetime(2026, 1, 5, tzinfo=UTC))
    event = Event(
        work_item_id=item.id, type="sla_started", occurred_at=far,
        data={"start": far.isoformat(), "note": "due 2037-03-03, not 2026-01-05", "n": 3},
    )  # fmt: skip
    session.add(event)
    session.flush()
    back = timedelta(weeks=-574)
    shift_times(session, far - timedelta(days=10), far + timedelta(days=10), back)
    session.refresh(item)
    session.refresh(event)
    assert item.created_at == far + back
    assert item.closed_at == datetime(2026, 1, 5, tzinfo=UTC)  # outside the span: untouched
    assert event.occurred_at == far + back
    assert event.data == {
        "start": (far + back).isoformat(),
        "note": f"due {(date(2037, 3, 3) + timedelta(days=back.days)).isoformat()}, not 2026-01-05",
        "n": 3,
    }


def test_a_history_that_stopped_half_way_is_named_and_a_finished_one_is_present(
    session: Session, make_work_item
) -> None:
    now = datetime.now(UTC)
    assert not present(session, now)
    item = make_work_item(workflow_id="incident/7-demo-20261204-00001")
    assert present(session, now)
    session.add(Event(work_item_id=item.id, type="created", occurred_at=now + timedelta(weeks=574)))
    session.flush()
    with pytest.raises(TierflowError, match="interrupted while it ran"):
        present(session, now)


def test_what_is_written_inside_recorded_at_is_stamped_with_its_moment(
    session: Session, make_work_item
) -> None:
    moment = datetime(2026, 9, 7, 9, 10, tzinfo=UTC)
    with recorded_at(moment):
        item = make_work_item()
    assert item.created_at == moment
    assert make_work_item().created_at > moment
    with pytest.raises(ValueError, match="aware"), recorded_at(datetime(2026, 9, 7)):
        pass


def test_the_help_desk_contributes_its_ticket_history() -> None:
    pm = create_plugin_manager()
    found = pm.collect("tierflow_register_demo_history", expect=DemoHistory)
    assert [(plugin, history.name) for plugin, history in found] == [
        ("helpdesk", "the help desk's ticket history")
    ]


# ------------------------------------------------------- run, on real servers ---


@pytest_asyncio.fixture(loop_scope="session")
async def department(
    temporal_client: Client, db_engine: Engine, tmp_path: Path
) -> AsyncIterator[tuple[PluginManager, sessionmaker[Session], str]]:
    """The demo department with its workflows deployed, and a worker on the live server."""
    pm = create_plugin_manager()
    sessions = make_session_factory(db_engine)
    with sessions.begin() as session:
        demo.load(session)
        deployment = deploy_all(session, pm, by="test", workflows_dir=tmp_path)
    assert not deployment.problems, deployment.problems
    queue = f"demo-live-{uuid.uuid4()}"
    worker = build_worker(
        temporal_client, queue, activities=worker_activities(pm, sessions), workflows=[Interpreter]
    )
    async with worker:
        yield pm, sessions, queue
        with sessions() as session:
            query = select(WorkItem.workflow_id).where(
                WorkItem.closed_at.is_(None), WorkItem.workflow_id.like(KEY)
            )
            running = list(session.scalars(query))
        for workflow_id in running:
            handle = temporal_client.get_workflow_handle(str(workflow_id))
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate(reason="the test is over")


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(300)
@pytest.mark.slow
async def test_the_history_runs_through_the_workflows_lands_in_the_past_and_loads_once(
    department: tuple[PluginManager, sessionmaker[Session], str],
    temporal_client: Client,
    tmp_path: Path,
) -> None:
    pm, sessions, queue = department
    options = DemoOptions(days=14, per_day=0.0, seed=3)
    out = io.StringIO()
    steps = Steps(out)
    before = datetime.now(UTC)
    await load_demo_history(
        pm, sessions, client=temporal_client, task_queue=queue, options=options, steps=steps
    )
    expected = len(JOURNEYS) + len(OPEN_JOURNEYS)
    assert f"{expected} tickets over 14 days" in out.getvalue()
    await _settled(sessions)

    with sessions() as session:
        items = session.scalars(select(WorkItem).where(WorkItem.workflow_id.like(KEY))).all()
        assert len(items) == expected
        created = sorted(item.created_at for item in items)
        assert before - timedelta(days=15) < created[0] < before - timedelta(days=10)
        assert created[-1] < before
        assert {item.channel for item in items} == {"portal", "api", "phone"}
        assert len({item.type for item in items}) == 5
        latest = session.scalar(select(func.max(Event.occurred_at)))
        assert latest is not None
        assert latest < datetime.now(UTC) + timedelta(minutes=1)

        rows = {row.work_item_id: row for row in session.scalars(select(Ticket))}
        _closed_as_they_happened(session, items, rows, before)
        still_open = [item for item in items if item.closed_at is None]
        _open_at_the_step_the_day_left_them(session, still_open, rows)
        live = [item.workflow_id for item in still_open]
    for workflow_id in live:
        description = await temporal_client.get_workflow_handle(str(workflow_id)).describe()
        assert description.status == WorkflowExecutionStatus.RUNNING, workflow_id

    counts = _counts(sessions)
    await load_demo_history(
        pm, sessions, client=temporal_client, task_queue=queue, options=options, steps=steps
    )
    assert "already present, nothing added" in out.getvalue()
    assert _counts(sessions) == counts


def _closed_as_they_happened(
    session: Session, items: list[WorkItem], rows: dict[int, Ticket], before: datetime
) -> None:
    """Closed before the load began, resolved at every tier, facts as their events say."""
    closed = [item for item in items if item.closed_at is not None]
    assert closed
    assert all(item.closed_at <= before for item in closed)
    tiers = Counter(rows[item.id].resolving_tier for item in closed)
    assert {"L1", "L2", "L3"} <= set(tiers)
    assert any(rows[item.id].first_contact for item in closed)
    assert {rows[item.id].resolution_mode for item in closed} >= {"on_site", "remote"}
    assert any(rows[item.id].reopens for item in closed)
    assert any(rows[item.id].response_breached for item in closed)
    for item in items:  # the facts rebuilt from the events are the row
        facts = current_facts(session, item)
        row = rows[item.id]
        seen = (facts.first_contact, facts.resolving_tier, facts.escalations, facts.reopens)
        kept = (row.first_contact, row.resolving_tier, row.escalations, row.reopens)
        assert seen == kept, item.reference
        assert facts.resolved_at == row.resolved_at, item.reference
    entries = session.scalars(
        select(TimeEntry).where(TimeEntry.work_item_id.in_([item.id for item in closed]))
    ).all()
    levels = {entry.person.level for entry in entries}
    assert {"L1", "L2", "L3"} <= levels  # time logged at every tier, at the person's rate
    assert all(entry.rate > 0 for entry in entries)
    first, last = before.date() - timedelta(days=15), before.date()
    assert all(first <= entry.work_date <= last for entry in entries)
    reminders = Counter(
        event.work_item_id
        for event in session.scalars(select(Event).filter_by(type="notified"))
        if str(event.data.get("subject", "")).startswith("Reminder")
    )
    assert max(reminders.values(), default=0) <= 12  # a reopened triage: no burst of them
    waiting = session.scalars(
        select(OutboxMail).where(
            OutboxMail.state == "queued",
            OutboxMail.work_item_id.in_([item.id for item in closed]),
        )
    ).all()
    assert waiting == []  # the history's mails are never sent, whenever SMTP is set up


def _open_at_the_step_the_day_left_them(
    session: Session, still_open: list[WorkItem], rows: dict[int, Ticket]
) -> None:
    """Open tickets wait at tasks of every line, some past their response target."""
    assert len(still_open) >= len(OPEN_JOURNEYS)
    tasks = session.scalars(
        select(Task).where(Task.status == "open", Task.work_item_id.in_([i.id for i in still_open]))
    ).all()
    assert {task.step_id for task in tasks} >= {
        "triage",
        "desktop_fix",
        "expert_fix",
        "approval",
    }
    assert any(rows[item.id].response_breached for item in still_open)


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(WorkItem)) or 0,
            session.scalar(select(func.count()).select_from(Task)) or 0,
        )


async def _settled(sessions: sessionmaker[Session]) -> None:
    """Wait until the live runs have done what the acts started: no new event for a second."""
    seen = -1
    for _ in range(60):
        with sessions() as session:
            now = session.scalar(select(func.count()).select_from(Event)) or 0
        if now == seen:
            return
        seen = now
        await asyncio.sleep(1.0)


# ------------------------------------------------------------ tierflow serve ---

TIERFLOW = Path(sys.executable).with_name("tierflow")


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_serve_demo_runs_a_small_history_with_its_progress_and_a_restart_adds_none(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
    command = [str(TIERFLOW), "serve", "--demo", "--data-dir", str(data), "--host", "127.0.0.1"]
    command += ["--demo-days", "10", "--demo-per-day", "0", "--demo-seed", "5"]
    outputs = []
    for run in ("first", "second"):
        port = free_port()
        log = tmp_path / f"{run}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(  # outside the repository: its workflows/ is not a site's
                [*command, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env,
                cwd=tmp_path,
            )  # fmt: skip
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", proc, log, timeout=200)
        finally:
            assert stop(proc) == 0, log.read_text()
        outputs.append(log.read_text())
    first, second = outputs
    expected = len(JOURNEYS) + len(OPEN_JOURNEYS)
    assert "Running the help desk's ticket history (helpdesk) …" in first
    assert f"{expected} tickets over 10 days, " in first
    assert f" 10/{expected}" in first  # the progress, on the step's line
    assert "the help desk's ticket history (helpdesk) … done" in second
    assert "already present, nothing added" in second.split("ticket history")[1]
    with sqlite3.connect(data / "tierflow.db") as db:
        tickets = db.execute("SELECT count(*) FROM work_item WHERE workflow_id LIKE ?", (KEY,))
        assert tickets.fetchone()[0] == expected
