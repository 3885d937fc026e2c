"""``beside``: a step starts a side path that runs beside the run, restarting when started again.

Also: events an activity records carry the run's time (time-skipping server).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.dsl.catalog import Catalog
from engine.dsl.validate import load_workflow_text
from engine.model import Event
from engine.runtime.messages import COMPLETE_TASK, TaskCompletion, TaskDone
from tests.interpreter.test_steps import open_tasks

pytestmark = pytest.mark.timeout(60)
on_the_test_server = pytest.mark.asyncio(loop_scope="session")

TICKING = """
name: ticking
kind: ticket
forms:
  work_form: {outcomes: [done, again]}
steps:
  - id: begin
    action: engine.record_event
    with: {type: begun}
    beside: tick
  - id: work
    task: {team: helpdesk-l1, form: work_form}
    next:
      - {when: "outcome == 'again'", goto: restart}
      - {otherwise: finish}
  - id: restart
    action: engine.record_event
    with: {type: restarted}
    beside: tick
    next: work
  - id: finish
    end: done
  - id: tick
    wait: {duration: 1h}
  - id: ticked
    action: engine.record_event
    with: {type: ticked}
    next: tick
"""


async def _complete(handle, outcome: str) -> None:
    [task] = await open_tasks(handle)
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, outcome, {}), result_type=TaskDone
    )


def _events(harness) -> list[Event]:
    with harness.sessions() as session:
        query = select(Event).where(Event.type.in_(["begun", "ticked", "restarted"]))
        return list(session.scalars(query.order_by(Event.occurred_at, Event.id)))


@on_the_test_server
async def test_a_side_path_runs_beside_and_restarts_when_started_again(harness) -> None:
    handle = await harness.start(TICKING)
    await open_tasks(handle)
    await harness.env.sleep(timedelta(minutes=150))  # ticks at 1 h and 2 h
    await _complete(handle, "again")  # at 2.5 h: the clock restarts, its next tick at 3.5 h
    await open_tasks(handle)
    await harness.env.sleep(timedelta(minutes=70))
    await _complete(handle, "done")
    result = await handle.result()
    assert result["outcome"] == "done"
    events = _events(harness)
    kinds = [event.type for event in events]
    assert kinds == ["begun", "ticked", "ticked", "restarted", "ticked"]
    begun = events[0].occurred_at
    offsets = [round((e.occurred_at - begun).total_seconds() / 60) for e in events]
    # the run's own times (the test server's clock), not the wall clock's
    assert offsets[:3] == [0, 60, 120]
    assert offsets[4] - offsets[3] == 60  # one tick only after the restart: the old one stopped
    history = await handle.fetch_history()
    assert len(history.events) < 120


def test_beside_names_a_step_of_the_same_list_and_is_not_put_on_an_end() -> None:
    catalog = Catalog(actions=frozenset({"engine.record_event"}))
    bad = TICKING.replace("beside: tick\n    next: work", "beside: tock\n    next: work")
    _, problems = load_workflow_text(bad, "ticking.yaml", catalog)
    assert any("unknown step 'tock' in 'beside'" in str(p) for p in problems)
    on_end = TICKING.replace(
        "  - id: finish\n    end: done", "  - id: finish\n    end: done\n    beside: tick"
    )
    _, problems = load_workflow_text(on_end, "ticking.yaml", catalog)
    assert any("an end step has no 'beside'" in str(p) for p in problems)
    without = TICKING.replace("    beside: tick\n    next: work", "    next: work").replace(
        "    beside: tick\n  - id: work", "  - id: work"
    )
    _, problems = load_workflow_text(without, "ticking.yaml", catalog)
    assert any("'tick' is unreachable" in str(p) for p in problems)
