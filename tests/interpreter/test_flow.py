"""Decide, wait, parallel, notify, call and overdue reminders on the time-skipping server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.model import Event, Task
from engine.runtime.messages import (
    COMPLETE_TASK,
    SIGNAL,
    OpenTask,
    SignalInput,
    TaskCompletion,
    TaskDone,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]


async def wait_for_tasks(handle, count: int = 1) -> list[OpenTask]:
    for _ in range(200):
        tasks = await handle.query("open_tasks", result_type=list[OpenTask])
        if len(tasks) >= count:
            return tasks
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} open tasks")


DECIDE = """
name: decide_flow
kind: ticket
variables: {threshold: 2}
steps:
  - id: route
    decide:
      - {when: "input.priority <= vars.threshold", goto: urgent}
      - {otherwise: normal}
  - id: urgent
    end: urgent
  - id: normal
    set: {seen: "{{ input.priority * 10 }}"}
    end: normal
"""


@pytest.mark.parametrize(("priority", "outcome"), [(1, "urgent"), (4, "normal")])
async def test_decide_branches_on_input_and_variables(harness, priority, outcome) -> None:
    handle = await harness.start(DECIDE, priority=priority)
    assert (await handle.result())["outcome"] == outcome


WAIT = """
name: wait_flow
kind: ticket
steps:
  - id: cool_off
    wait: {duration: 3d}
  - id: reply
    wait: {signal: requester_replied, timeout: 5d}
    next:
      - {when: "timed_out", goto: silent}
      - {when: "signal.text == 'fixed'", goto: thanks}
      - {otherwise: silent}
  - id: thanks
    end: confirmed
  - id: silent
    end: no_reply
"""


async def test_wait_for_a_signal_that_comes(harness) -> None:
    handle = await harness.start(WAIT)
    await handle.signal(SIGNAL, SignalInput("requester_replied", {"text": "fixed"}))
    assert (await handle.result())["outcome"] == "confirmed"


async def test_wait_for_a_signal_that_times_out(harness) -> None:
    handle = await harness.start(WAIT)
    assert (await handle.result())["outcome"] == "no_reply"
    history = await handle.fetch_history()
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    durations = sorted(
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() for e in timers
    )
    assert durations == [timedelta(days=3), timedelta(days=5)]


PARALLEL = """
name: parallel_flow
kind: ticket
forms:
  done:
    outcomes: [done]
steps:
  - id: onboarding
    parallel:
      wait_for: {mode}
      branches:
        accounts:
          - id: create_accounts
            task: {{team: helpdesk-l1, form: done}}
          - id: accounts_done
            end: accounts
        laptop:
          - id: order_laptop
            task: {{team: desktop-support, form: done}}
  - id: finish
    end: joined
"""


async def test_parallel_first_wins_and_cancels_the_other_branch(harness) -> None:
    handle = await harness.start(PARALLEL.format(mode="first"))
    tasks = await wait_for_tasks(handle, 2)
    laptop = next(t for t in tasks if t.step_id == "order_laptop")
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(laptop.task_id, "done"), result_type=TaskDone
    )
    result = await handle.result()
    with harness.sessions() as session:
        statuses = dict(session.execute(select(Task.step_id, Task.status)).all())
    assert statuses == {"order_laptop": "completed", "create_accounts": "cancelled"}
    assert result["outcome"] == "joined"


async def test_parallel_all_joins_both_branches(harness) -> None:
    handle = await harness.start(PARALLEL.format(mode="all"))
    tasks = await wait_for_tasks(handle, 2)
    for task in tasks:
        await handle.execute_update(
            COMPLETE_TASK, TaskCompletion(task.task_id, "done"), result_type=TaskDone
        )
    await handle.result()
    with harness.sessions() as session:
        statuses = set(session.scalars(select(Task.status)).all())
    assert statuses == {"completed"}


REMIND = """
name: remind_flow
kind: ticket
forms:
  approve:
    outcomes: [approved]
steps:
  - id: approval
    task:
      team: helpdesk-l1
      form: approve
      due: 4h
      overdue:
        - {every: 1h, remind: true}
        - {after: 3h30m, escalate: give_up}
    next: ok
  - id: ok
    end: approved
  - id: give_up
    notify: {to: [requester, "team:helpdesk-l1"], subject: "{{ item.title }} was not approved"}
  - id: expired
    end: expired
"""


async def test_hourly_reminders_fire_until_the_escalation(harness) -> None:
    handle = await harness.start(REMIND)
    assert (await handle.result())["outcome"] == "expired"
    with harness.sessions() as session:
        notes = session.scalars(select(Event).filter_by(type="notified").order_by(Event.id)).all()
        [task] = session.scalars(select(Task)).all()
    subjects = [note.data["subject"] for note in notes]
    # reminders at due, +1h, +2h, +3h; at +3h30m it escalates (closing the task) and notifies
    assert subjects == [
        "Reminder: approval is overdue",
        "Reminder: approval is overdue",
        "Reminder: approval is overdue",
        "Reminder: approval is overdue",
        "VPN down was not approved",
    ]
    assert notes[0].data["to"] == ["team:helpdesk-l1"]
    assert task.status == "cancelled"


REASSIGN = """
name: reassign_flow
kind: ticket
forms:
  fix:
    outcomes: [fixed]
steps:
  - id: fix
    task:
      team: helpdesk-l1
      form: fix
      due: 2h
      overdue:
        - {after: 1h, reassign: {team: desktop-support}}
  - id: done
    end: fixed
"""


async def test_overdue_task_is_reassigned_and_stays_open(harness) -> None:
    handle = await harness.start(REASSIGN)
    [task] = await wait_for_tasks(handle)
    assert task.team == "helpdesk-l1"
    await harness.env.sleep(timedelta(hours=3, minutes=1))  # 1 h past due
    [task] = await handle.query("open_tasks", result_type=list[OpenTask])
    assert task.team == "desktop-support"
    with harness.sessions() as session:
        row = session.get(Task, task.task_id)
        assert (row.status, row.team.slug) == ("open", "desktop-support")
        moved = session.scalars(select(Event).filter_by(type="task_reassigned")).one()
        assert moved.data["from"]["team"] == "helpdesk-l1"
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "fixed"), result_type=TaskDone
    )
    assert (await handle.result())["outcome"] == "fixed"
