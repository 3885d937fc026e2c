"""A worker killed with SIGKILL while 200 runs are in flight: a new one finishes every run,
and no task, event or change is written twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client

from engine.db import create_db_engine, make_session_factory
from engine.dsl.pinning import pinned_hash
from engine.model import Event, Task, Team, WorkflowDefinition, WorkItem
from engine.runtime.client import Runtime
from engine.runtime.messages import TaskCompletion

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(300),
    pytest.mark.slow,
]

RUNS = int(os.environ.get("CRASH_RUNS", "200"))
TIERFLOW = Path(sys.executable).with_name("tierflow")

FLOW = """
name: crash_flow
kind: ticket
forms:
  work:
    outcomes: [done]
steps:
  - id: note
    action: engine.record_event
    with: {type: noted}
    timeout: 5s
  - id: work
    task: {team: helpdesk-l1, form: work}
  - id: mark
    action: engine.update_work_item
    with: {status: done}
    timeout: 5s
  - id: finish
    end: done
"""


def start_worker(address: str, url: str, queue: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
    env |= {
        "TIERFLOW_TEMPORAL_ADDRESS": address,
        "TIERFLOW_DATABASE_URL": url,
        "TIERFLOW_TASK_QUEUE": queue,
    }
    with log.open("a") as out:
        return subprocess.Popen(
            [str(TIERFLOW), "worker", "--data-dir", str(log.parent / "data")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


async def wait_for(condition, what: str, timeout: float = 120) -> None:
    for _ in range(int(timeout / 0.2)):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def progress(message: str) -> None:
    print(f"[crash test] {message}", file=sys.stderr, flush=True)


async def test_killed_worker_duplicates_nothing(
    dev_server: Client, database_url: str, tmp_path: Path
) -> None:
    address = dev_server.service_client.config.target_host
    queue = f"crash-{uuid.uuid4()}"
    log = tmp_path / "worker.log"
    worker = start_worker(address, database_url, queue, log)
    db = create_db_engine(database_url)
    sessions = make_session_factory(db)
    try:
        await wait_for(lambda: "Tierflow is running" in log.read_text(), "the worker")
        digest = pinned_hash(FLOW)
        with sessions() as session, session.begin():
            session.add(Team(slug="helpdesk-l1", name="Help desk"))
            session.add(
                WorkflowDefinition(name="crash_flow", version="1", content_hash=digest,
                                   source=FLOW, kind="ticket", active=True)
            )  # fmt: skip
            items = [WorkItem(kind="ticket", type="t", title=f"#{n}", status="new")
                     for n in range(RUNS)]  # fmt: skip
            session.add_all(items)
            session.flush()
            ids = [item.id for item in items]
        runtime = Runtime(dev_server, queue)
        runs = await asyncio.gather(
            *(runtime.start("crash_flow", key=f"{queue}-{i}", work_item_id=i) for i in ids)
        )

        def open_tasks() -> list[Task]:
            with sessions() as session:
                return list(session.scalars(select(Task).filter_by(status="open")))

        await wait_for(lambda: len(open_tasks()) == RUNS, "every run's task")
        tasks = {task.work_item_id: task.id for task in open_tasks()}
        half = ids[: RUNS // 2]
        await asyncio.gather(
            *(
                runtime.complete_task(run, TaskCompletion(tasks[i], "done"))
                for run, i in zip(runs, half, strict=False)
            )
        )
        worker.send_signal(signal.SIGKILL)  # with 100 'mark' actions in flight or queued
        worker.wait(timeout=30)
        worker = start_worker(address, database_url, queue, log)
        await asyncio.gather(
            *(
                runtime.complete_task(run, TaskCompletion(tasks[i], "done"))
                for run, i in zip(runs[RUNS // 2 :], ids[RUNS // 2 :], strict=False)
            )
        )
        results = await asyncio.gather(
            *(dev_server.get_workflow_handle(run).result() for run in runs)
        )
        assert [result["outcome"] for result in results] == ["done"] * RUNS
        with sessions() as session:
            per_item = Counter(
                (item, kind)
                for item, kind in session.execute(select(Event.work_item_id, Event.type))
            )
            task_rows = Counter(session.scalars(select(Task.work_item_id)))
            statuses = set(session.scalars(select(WorkItem.status).where(WorkItem.id.in_(ids))))
        assert statuses == {"done"}
        assert set(task_rows.values()) == {1}
        assert len(task_rows) == RUNS
        for item in ids:
            for kind in ("noted", "task_opened", "task_completed", "status_changed"):
                assert per_item[(item, kind)] == 1, (item, kind, per_item[(item, kind)])
    finally:
        worker.kill()
        worker.wait(timeout=30)
        db.dispose()
