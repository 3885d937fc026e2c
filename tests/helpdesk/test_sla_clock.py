"""The SLA clock on Temporal's time-skipping server, against deadlines worked out by hand.

Calendar: Berlin, Monday to Friday 08:00-17:00, German public holidays. Policy
P2: response 60 business minutes, resolution 480, warning at 75 %.

The ticket comes in on Friday 7 June 2030 at 16:30 (Monday 10 June is Whit
Monday), so by hand:

- response: 30 min on Friday, 30 on Tuesday -> due Tue 11 June 08:30, warning
  (45 min) at 08:15;
- resolution: 30 on Friday, 450 on Tuesday -> due Tue 15:30, warning (360 min)
  at 13:30.

The L1 agent answers on Tuesday at 08:20 (after the warning, before the
deadline: met) and escalates to desktop support, which asks the requester at
10:00 (paused). The requester replies on Wednesday at 11:00: the clock was
held for 600 business minutes (Tue 10:00-17:00, Wed 08:00-11:00); 330 of
resolution were left at the pause, so it is now due Wed 16:30, the warning
(210 left) at 14:30. Nobody resolves it in time: warning at 14:30, breach at
16:30; it is resolved on Thursday at 09:00.

Per tier: helpdesk-l1 Fri 16:30-17:00 + Tue 08:00-08:20 = 50 min; desktop
support Tue 08:20-10:00 = 100 (the pause is left out); helpdesk-l1 again Wed
11:00-17:00 + Thu 08:00-09:00 = 420.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from engine.db import make_session_factory
from engine.dsl.catalog import Catalog
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.dsl.validate import load_workflow_text
from engine.model import Event, Team, WorkflowDefinition, WorkItem
from engine.plugins import create_plugin_manager
from engine.runtime.activities import worker_activities
from engine.runtime.binaries import test_server_path
from engine.runtime.interpreter import Interpreter
from engine.runtime.messages import (
    COMPLETE_TASK,
    RUN_WORKFLOW,
    SIGNAL,
    OpenTask,
    RunInput,
    SignalInput,
    TaskCompletion,
    TaskDone,
)
from engine.runtime.worker import build_worker
from plugins.helpdesk import plugin as helpdesk
from plugins.helpdesk.models import Calendar, SlaPolicy, Ticket
from plugins.helpdesk.sla import events_of, hours_of
from plugins.helpdesk.sla_clock import minutes_by_team, recompute, segments

pytestmark = [pytest.mark.timeout(120)]

BERLIN = ZoneInfo("Europe/Berlin")

FLOW = """
name: sla_flow
kind: ticket
forms:
  step_form: {outcomes: [done]}
steps:
  - id: sla
    action: helpdesk.sla_start
    result: sla
    beside: sla_clock
  - id: open
    action: engine.update_work_item
    with: {current_team: helpdesk-l1, owner_team: helpdesk-l1}
  - id: triage
    task: {team: helpdesk-l1, form: step_form, due: "{{ vars.sla.response_due }}"}
  - id: respond
    action: engine.record_event
    with: {type: first_response, data: {minutes: 0}}
  - id: escalate
    action: engine.update_work_item
    with: {current_team: desktop-support}
  - id: fix
    task: {team: desktop-support, form: step_form}
  - id: ask
    action: helpdesk.sla_pause
    with: {reason: requester}
  - id: reply
    wait: {signal: requester_replied}
  - id: resume
    action: helpdesk.sla_resume
    result: sla
    beside: sla_clock
  - id: back
    action: engine.update_work_item
    with: {current_team: helpdesk-l1}
  - id: confirm
    task: {team: helpdesk-l1, form: step_form, due: "{{ vars.sla.resolution_due }}"}
  - id: resolve
    action: engine.record_event
    with:
      type: resolved
      data: {team: helpdesk-l1, tier: L1, resolution_mode: remote, l1_capable: null,
             first_contact: false}
  - id: stop
    action: helpdesk.sla_stop
  - id: done
    end: resolved

  # the SLA clock, beside the ticket (started by sla and by resume)
  - id: sla_clock
    action: helpdesk.sla_tick
    result: clock
    next:
      - {when: "result.breached", goto: sla_breached}
      - {when: "result.warned", goto: sla_warned}
      - {when: "result.done", goto: sla_clock_done}
      - {otherwise: sla_sleep}
  - id: sla_sleep
    wait: {until: "{{ vars.clock.next }}"}
    next: sla_clock
  - id: sla_warned
    notify:
      to: [current_team]
      subject: "SLA warning: {{ vars.clock.warned | join(', ') }}"
    next: sla_after
  - id: sla_breached
    notify:
      to: [owner_team, current_team]
      subject: "SLA breached: {{ vars.clock.breached | join(', ') }}"
    next: sla_after
  - id: sla_after
    decide:
      - {when: "vars.clock.done", goto: sla_clock_done}
      - {otherwise: sla_sleep}
  - id: sla_clock_done
    end: clock_stopped
"""


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


def minute(moment: datetime) -> datetime:
    """To the nearest minute: the test server's sleeps land within a few milliseconds."""
    return (moment.astimezone(UTC) + timedelta(seconds=30)).replace(second=0, microsecond=0)


class Run:
    """A worker with the help desk's actions on a time-skipping server of its own."""

    def __init__(self, env: WorkflowEnvironment, sessions: sessionmaker[Session]) -> None:
        self.env, self.sessions = env, sessions
        self.queue = f"sla-{uuid.uuid4()}"

    async def until(self, moment: datetime) -> None:
        now = await self.env.get_current_time()
        assert moment > now, f"the test server is already at {now}"
        await self.env.sleep(moment - now)

    def deploy(self, source: str) -> str:
        catalog = Catalog(
            actions=frozenset(
                ["engine.update_work_item", "engine.record_event"]
                + [f"helpdesk.sla_{name}" for name in ("start", "pause", "resume", "stop", "tick")]
            ),
            teams=frozenset({"helpdesk-l1", "desktop-support"}),
        )
        workflow, problems = load_workflow_text(source, "sla_flow.yaml", catalog)
        assert not problems, "\n".join(map(str, problems))
        assert workflow is not None
        digest = pinned_hash(source, shared_forms_json({}))
        with self.sessions() as session, session.begin():
            session.add(
                WorkflowDefinition(
                    name=workflow.name, version="1", content_hash=digest, source=source,
                    shared_forms=shared_forms_json({}), kind="ticket", active=True,
                )
            )  # fmt: skip
        return digest


@pytest_asyncio.fixture(loop_scope="function")
async def run(db_engine: Engine) -> AsyncIterator[Run]:
    sessions = make_session_factory(db_engine)
    _setup(sessions)
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", helpdesk)])
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path())
    ) as env:
        ready = Run(env, sessions)
        worker = build_worker(
            env.client, ready.queue, activities=worker_activities(pm, sessions),
            workflows=[Interpreter],
        )  # fmt: skip
        async with worker:
            yield ready


def _setup(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        session.add_all(
            [
                Team(slug="helpdesk-l1", name="Help desk", tier="L1"),
                Team(slug="desktop-support", name="Desktop support", tier="L2"),
            ]
        )
        calendar = Calendar(
            slug="berlin", name="Berlin office", timezone="Europe/Berlin",
            workdays=[1, 2, 3, 4, 5], day_start=time(8), day_end=time(17),
            holiday_country="DE",
        )  # fmt: skip
        session.add(calendar)
        session.flush()
        session.add_all(
            [
                SlaPolicy(
                    name="Incidents P2", request_type="incident", priority=2, calendar=calendar,
                    response_minutes=60, resolution_minutes=480, warn_percent=75,
                ),
                SlaPolicy(
                    name="Default", calendar=calendar, response_minutes=600,
                    resolution_minutes=6000, warn_percent=50,
                ),
            ]
        )  # fmt: skip


async def _task(handle, step: str) -> OpenTask:
    for _ in range(200):
        tasks = await handle.query("open_tasks", result_type=list[OpenTask])
        found = [task for task in tasks if task.step_id == step]
        if found:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"task {step} never opened")


async def _complete(handle, step: str) -> None:
    task = await _task(handle, step)
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "done", {}), result_type=TaskDone
    )


def _sla_events(run: Run, item: int) -> list[tuple[str, str | None, datetime]]:
    with run.sessions() as session:
        return [
            (e.type, e.data.get("target") or e.data.get("reason"), minute(e.occurred_at))
            for e in events_of(session, item)
            if e.type.startswith("sla_")
        ]


async def test_the_clock_over_a_weekend_a_holiday_a_pause_a_warning_and_a_breach(run: Run) -> None:
    start = local(2030, 6, 7, 16, 30)
    await run.until(start)
    digest = run.deploy(FLOW)
    with run.sessions() as session, session.begin():
        item = WorkItem(kind="ticket", type="incident", title="Printer", status="new", priority=2)
        item.created_at = start
        session.add(item)
        session.flush()
        item_id = item.id
    handle = await run.env.client.start_workflow(
        RUN_WORKFLOW, RunInput("sla_flow", digest, item_id), id=f"sla-{uuid.uuid4()}",
        task_queue=run.queue, result_type=dict,
    )  # fmt: skip
    triage = await _task(handle, "triage")
    assert triage.due_at is not None
    assert minute(datetime.fromisoformat(triage.due_at)) == local(2030, 6, 11, 8, 30)

    await run.until(local(2030, 6, 11, 8, 20))
    await _complete(handle, "triage")  # answered at 08:20, after the warning at 08:15
    await _task(handle, "fix")
    await run.until(local(2030, 6, 11, 10, 0))
    await _complete(handle, "fix")  # desktop support asks the requester at 10:00
    await run.until(local(2030, 6, 12, 11, 0))
    await handle.signal(SIGNAL, SignalInput("requester_replied"))
    confirm = await _task(handle, "confirm")
    assert minute(datetime.fromisoformat(str(confirm.due_at))) == local(2030, 6, 12, 16, 30)
    await run.until(local(2030, 6, 13, 9, 0))
    await _complete(handle, "confirm")
    result = await handle.result()
    assert result["outcome"] == "resolved"

    _assert_recorded(run, item_id, start)
    history = await handle.fetch_history()
    assert len(history.events) < 250
    assert_recomputes(run)


def _assert_recorded(run: Run, item_id: int, start: datetime) -> None:
    assert _sla_events(run, item_id) == [
        ("sla_started", None, start),
        ("sla_warning", "response", local(2030, 6, 11, 8, 15)),
        ("sla_met", "response", local(2030, 6, 11, 8, 20)),
        ("sla_paused", "requester", local(2030, 6, 11, 10, 0)),
        ("sla_resumed", None, local(2030, 6, 12, 11, 0)),
        ("sla_warning", "resolution", local(2030, 6, 12, 14, 30)),
        ("sla_breached", "resolution", local(2030, 6, 12, 16, 30)),
        ("sla_stopped", None, local(2030, 6, 13, 9, 0)),
    ]
    with run.sessions() as session:
        started = session.scalars(select(Event).filter_by(type="sla_started")).one()
        assert started.data["policy"] == "Incidents P2"
        assert started.data["response_due"] == local(2030, 6, 11, 8, 30).isoformat()
        assert started.data["resolution_due"] == local(2030, 6, 11, 15, 30).isoformat()
        assert started.data["start"] == start.isoformat()
        resumed = session.scalars(select(Event).filter_by(type="sla_resumed")).one()
        assert minute(datetime.fromisoformat(resumed.data["resolution_due"])) == local(
            2030, 6, 12, 16, 30
        )
        notified = session.scalars(select(Event).filter_by(type="notified")).all()
        sla_notes = [e for e in notified if e.data["subject"].startswith("SLA")]
        assert [(e.data["subject"], minute(e.occurred_at)) for e in sla_notes] == [
            ("SLA warning: response", local(2030, 6, 11, 8, 15)),
            ("SLA warning: resolution", local(2030, 6, 12, 14, 30)),
            ("SLA breached: resolution", local(2030, 6, 12, 16, 30)),
        ]
        ticket = session.get(Ticket, item_id)
        assert ticket is not None
        assert minute(ticket.response_due_at) == local(2030, 6, 11, 8, 30)
        assert minute(ticket.resolution_due_at) == local(2030, 6, 12, 16, 30)
        assert (ticket.response_breached, ticket.resolution_breached) == (False, True)

        events = events_of(session, item_id)
        hours = hours_of(session, "berlin")
        end = local(2030, 6, 14, 12, 0)
        held = segments(events, hours, end)
        assert [(s.team, s.minutes) for s in held] == [
            ("helpdesk-l1", 50),
            ("desktop-support", 100),
            ("helpdesk-l1", 420),
        ]
        assert minutes_by_team(held) == {"helpdesk-l1": 470, "desktop-support": 100}
        clock = recompute(events, hours, end)
        assert clock.elapsed(hours, "response") == 50
        assert clock.elapsed(hours, "resolution") == 50 + 100 + 420
        assert clock.breached("resolution")
        assert not clock.breached("response")
        assert clock.met("response") is True
        assert clock.met("resolution") is False
        assert clock.pauses[0][2] == "requester"


async def test_without_an_answer_the_response_breach_comes_on_time(run: Run) -> None:
    """A ticket of another type gets the default policy: 600 min, warning at 50 %."""
    start = local(2030, 12, 23, 12, 0)  # Monday before Christmas
    await run.until(start)
    digest = run.deploy(FLOW)
    with run.sessions() as session, session.begin():
        item = WorkItem(kind="ticket", type="access", title="Account", status="new", priority=1)
        item.created_at = start
        session.add(item)
        session.flush()
        item_id = item.id
    handle = await run.env.client.start_workflow(
        RUN_WORKFLOW, RunInput("sla_flow", digest, item_id), id=f"sla-{uuid.uuid4()}",
        task_queue=run.queue, result_type=dict,
    )  # fmt: skip
    # by hand: Mon 12:00-17:00 = 300, Tue 24th 08:00-13:00 = 300 -> due Tue 24 Dec 13:00;
    # 50 % (300) at Monday 17:00
    await _task(handle, "triage")
    await run.until(local(2030, 12, 27, 9, 0))  # after Christmas: nobody answered
    assert _sla_events(run, item_id)[1:] == [
        ("sla_warning", "response", local(2030, 12, 23, 17, 0)),
        ("sla_breached", "response", local(2030, 12, 24, 13, 0)),
    ]
    await _complete(handle, "triage")  # the late answer does not breach twice
    await _task(handle, "fix")
    with run.sessions() as session:
        types = [e.type for e in events_of(session, item_id) if e.type.startswith("sla_")]
        assert types.count("sla_breached") == 1
        assert "sla_met" not in types
        ticket = session.get(Ticket, item_id)
        assert ticket is not None
        assert ticket.response_breached
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert_recomputes(run)


def assert_recomputes(run: Run) -> None:
    """Every ticket's clock, recomputed from its events, is what was recorded live."""
    with run.sessions() as session:
        for item_id in session.scalars(select(WorkItem.id)):
            events = events_of(session, item_id)
            latest = [e for e in events if e.type in ("sla_started", "sla_resumed")][-1]
            at = max(e.occurred_at for e in events)
            clock = recompute(events, hours_of(session, "berlin"), at)
            ticket = session.get(Ticket, item_id)
            assert ticket is not None
            for name, target in clock.targets.items():
                recorded = datetime.fromisoformat(latest.data[f"{name}_due"])
                assert abs(recorded - target.due) < timedelta(seconds=1)
                assert getattr(ticket, f"{name}_due_at") == target.due
                assert getattr(ticket, f"{name}_breached") == clock.breached(name)
                for kind, moment in (("sla_warning", target.warn_at), ("sla_breached", target.due)):
                    live = [e for e in events if e.type == kind and e.data["target"] == name]
                    assert [minute(e.occurred_at) for e in live] == (
                        [minute(moment)] if moment < (target.stopped_at or at) else []
                    )
